package prior

// Builtin returns fresh copies of the built-in priors: the pretraining priors
// first, then the truth-* environments that stand in for reality.
func Builtin() []*Prior {
	broadRatio := Range{Min: 0.5, Max: 0.95}
	return []*Prior{
		{
			Name: "normal-normal", Version: "1", Kind: NormalNormal,
			Description: "theta_k ~ N(mu0, tau^2), demand ~ N(theta_k, sigma^2); mu0, tau/mu0, sigma/mu0 vary between environments",
			Level:       Range{Min: 50, Max: 500, Log: true}, Spread: Range{Min: 0.05, Max: 0.4},
			CV: Range{Min: 0.1, Max: 0.4}, Noise: Fixed(0),
			Instances: IntRange{Min: 50, Max: 500}, Obs: IntRange{Min: 3, Max: 10}, Ratio: broadRatio,
		},
		{
			Name: "gamma-poisson", Version: "1", Kind: GammaPoisson,
			Description: "lambda_k ~ Gamma(mean level, cv spread), demand ~ Poisson(lambda_k)",
			Level:       Range{Min: 2, Max: 50, Log: true}, Spread: Range{Min: 0.2, Max: 1},
			CV: Fixed(0), Noise: Fixed(0),
			Instances: IntRange{Min: 50, Max: 500}, Obs: IntRange{Min: 3, Max: 10}, Ratio: broadRatio,
		},
		{
			Name: "lognormal-portfolio", Version: "1", Kind: Managerial, Families: []string{"lognormal"},
			Description: "lognormal product means across the portfolio, lognormal demand within each product",
			Level:       Range{Min: 20, Max: 1000, Log: true}, Spread: Range{Min: 0.3, Max: 1.5},
			CV: Range{Min: 0.2, Max: 0.8}, Noise: Fixed(0),
			Instances: IntRange{Min: 50, Max: 500}, Obs: IntRange{Min: 3, Max: 10}, Ratio: broadRatio,
		},
		{
			Name: "mixed-managerial", Version: "1", Kind: Managerial, Families: Families,
			Description: "family, level, spread, within-product cv, noise, n_k and rho all drawn from managerial ranges",
			Level:       Range{Min: 5, Max: 1000, Log: true}, Spread: Range{Min: 0.1, Max: 1.5},
			CV: Range{Min: 0.1, Max: 1}, Noise: Range{Min: 0, Max: 0.2},
			Instances: IntRange{Min: 20, Max: 500}, Obs: IntRange{Min: 2, Max: 20}, Ratio: broadRatio,
		},
		{
			// What a retailer knows before looking at a store's history:
			// daily sales are right-skewed or two-mode (promotion days),
			// vary 10-45% around the store's mean, store means differ by
			// 15-60%, and shortages cost far more than leftovers. The
			// Rossmann benchmark's N = 10 observed days show a pooled
			// within-store cv near 0.25 and a store spread near 0.33, inside
			// these ranges; nothing here comes from the full histories.
			Name: "retail-daily", Version: "1", Kind: Managerial, Families: []string{"lognormal", "gamma", "mixture", "normal"},
			Description: "daily store sales: skewed or two-mode demand, within-store cv 0.1-0.45, store means spread 0.15-0.6, ratios 0.8-0.98",
			Level:       Range{Min: 100, Max: 10000, Log: true}, Spread: Range{Min: 0.15, Max: 0.6},
			CV: Range{Min: 0.1, Max: 0.45}, Noise: Fixed(0),
			Instances: IntRange{Min: 100, Max: 1000}, Obs: IntRange{Min: 3, Max: 20}, Ratio: Range{Min: 0.8, Max: 0.98},
		},
		broad(),
		{
			Name: "truth-heavy-tail", Version: "1", Kind: Managerial, Families: []string{"lognormal"},
			Description: "true environment: heavy-tailed lognormal demand (cv 1 to 2.5)",
			Level:       Range{Min: 20, Max: 500, Log: true}, Spread: Range{Min: 0.5, Max: 1.5},
			CV: Range{Min: 1, Max: 2.5}, Noise: Fixed(0),
			Instances: IntRange{Min: 100, Max: 1000}, Obs: IntRange{Min: 3, Max: 10}, Ratio: broadRatio,
		},
		{
			Name: "truth-bimodal", Version: "1", Kind: Managerial, Families: []string{"mixture"},
			Description: "true environment: bimodal two-component gamma mixtures",
			Level:       Range{Min: 20, Max: 500, Log: true}, Spread: Range{Min: 0.3, Max: 1},
			CV: Range{Min: 0.1, Max: 0.4}, Noise: Fixed(0),
			Instances: IntRange{Min: 100, Max: 1000}, Obs: IntRange{Min: 3, Max: 10}, Ratio: broadRatio,
		},
		{
			Name: "truth-overdispersed", Version: "1", Kind: Managerial, Families: []string{"negbinomial"},
			Description: "true environment: over-dispersed negative binomial counts (cv 0.6 to 1.5)",
			Level:       Range{Min: 5, Max: 100, Log: true}, Spread: Range{Min: 0.3, Max: 1},
			CV: Range{Min: 0.6, Max: 1.5}, Noise: Fixed(0),
			Instances: IntRange{Min: 100, Max: 1000}, Obs: IntRange{Min: 3, Max: 10}, Ratio: broadRatio,
		},
		{
			Name: "truth-noisy", Version: "1", Kind: Managerial, Families: []string{"gamma"},
			Description: "true environment: gamma demand observed with additive noise (sd 20% to 50% of the mean)",
			Level:       Range{Min: 20, Max: 500, Log: true}, Spread: Range{Min: 0.3, Max: 1},
			CV: Range{Min: 0.2, Max: 0.6}, Noise: Range{Min: 0.2, Max: 0.5},
			Instances: IntRange{Min: 100, Max: 1000}, Obs: IntRange{Min: 3, Max: 10}, Ratio: broadRatio,
		},
	}
}

// broad is the default model's pretraining prior: every kind of ordinary
// portfolio the benchmark suite names, over ranges wider than any one
// benchmark's. A quarter of the environments are normal-normal (constant
// within-product spread), a quarter gamma-Poisson counts (low counts
// included), half managerial portfolios of any family; n_k from 1 to 20,
// ratios from 0.5 to 0.99; and, each in 15% of the environments, products
// that never sell, products with constant demand, and gross errors (up to
// one observation in 200, 10 to 100 times the portfolio's mean).
//
// Half of the managerial environments observe demand itself, half observe
// it through additive noise (sd up to 20% of the product's mean). Version
// 1 put noise in every managerial environment, so a noise-free
// lognormal, two-mode or count portfolio (integer negative binomial
// data, say), the benchmark suite's kind, never occurred in pretraining.
func broad() *Prior {
	ratio := Range{Min: 0.5, Max: 0.99}
	instances, obs := IntRange{Min: 20, Max: 500}, IntRange{Min: 1, Max: 20}
	managerial := func(name string, noise Range) *Prior {
		return &Prior{
			Name: name, Version: "2", Kind: Managerial, Families: Families,
			Level: Range{Min: 1, Max: 1000, Log: true}, Spread: Range{Min: 0.05, Max: 1.5},
			CV: Range{Min: 0.1, Max: 1.5}, Noise: noise,
			Instances: instances, Obs: obs, Ratio: ratio,
		}
	}
	return &Prior{
		Name: "broad", Version: "2", Kind: Blend,
		Description: "the default model's prior: normal-normal, gamma-Poisson and managerial portfolios of every family (half of them observed with noise), n_k 1-20, rho 0.5-0.99, with never-selling products, constant products and gross errors",
		Instances:   instances, Obs: obs, Ratio: ratio,
		Components: []*Prior{
			{
				Name: "broad-normal-normal", Version: "1", Kind: NormalNormal,
				Level: Range{Min: 3, Max: 2000, Log: true}, Spread: Range{Min: 0.02, Max: 1},
				CV: Range{Min: 0.05, Max: 1}, Noise: Fixed(0), Instances: instances, Obs: obs, Ratio: ratio,
			},
			{
				Name: "broad-gamma-poisson", Version: "1", Kind: GammaPoisson,
				Level: Range{Min: 0.3, Max: 50, Log: true}, Spread: Range{Min: 0.2, Max: 2},
				CV: Fixed(0), Noise: Fixed(0), Instances: instances, Obs: obs, Ratio: ratio,
			},
			managerial("broad-managerial", Fixed(0)),
			managerial("broad-managerial-noisy", Range{Min: 0, Max: 0.2}),
		},
		Zeros:       &Alteration{Chance: 0.15, Share: Range{Min: 0.05, Max: 0.5}},
		Constants:   &Alteration{Chance: 0.15, Share: Range{Min: 0.02, Max: 0.2}},
		GrossErrors: &Alteration{Chance: 0.15, Share: Range{Min: 0.0002, Max: 0.005}, Factor: Range{Min: 10, Max: 100, Log: true}},
	}
}
