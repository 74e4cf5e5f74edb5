// Package cluster holds the job files that run ptft's experiment sweeps on
// a cluster (slurm-e2.sbatch for Slurm, k8s-e2-job.yaml for Kubernetes)
// and the test that runs the Slurm one on a real, single-node Slurm.
package cluster
