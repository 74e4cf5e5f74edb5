package data_test

import (
	"fmt"
	"strings"

	"github.com/ptft-lab/ptft/workbench/data"
)

func ExampleReadObservations() {
	csv := "instance,value\nshampoo,12\nshampoo,15\nsoap,3\nshampoo,9\n"
	p, err := data.ReadObservations(strings.NewReader(csv), "sales.csv", 0.8)
	if err != nil {
		panic(err)
	}
	for k, id := range p.IDs {
		fmt.Println(id, p.Obs[k], p.Ratios[k])
	}
	_, err = data.ReadObservations(strings.NewReader("instance,value\nsoap,-1\n"), "bad.csv", 0.8)
	fmt.Println(err)
	// Output:
	// shampoo [12 15 9] 0.8
	// soap [3] 0.8
	// bad.csv:2: instance "soap": value -1 is negative
}
