// Package experiments holds ptft's named, seeded experiments (DESIGN.md §8)
// and the machinery that runs them as resumable, sharded sweeps and turns
// their raw results into tables and figures.
//
//	E1 in-prior regret against K for n in {2, 5, 10}
//	E2 misspecified truth: pretrained only, scratch, pretrain+finetune and baselines against K
//	E3 noisy observations: regret against the observation-noise level
//	E4 ablations: no cross-instance attention, no pretraining, full vs inducing-point attention
//	E5 cost: wall time and peak memory against K
//	E6 Rossmann: Gupta & Kallus's benchmark, K up to 1,115, N = 10 and N ~ Poisson(10)
//
// An experiment expands into cells: one method on one environment (one
// replicate seed). Run executes the cells that are not yet in the raw
// results and appends each finished cell, as one JSON line carrying its
// configuration, seed, code version, backend and timing, to
// results/raw/<experiment>.jsonl (or a per-shard file); every append
// rewrites the file through a temporary file and a rename, so a killed run
// loses at most the cell it was running and never leaves a partial line.
// Environments use common random numbers: a replicate's environment seed
// does not depend on the method, K or the noise level, so the curves of a
// figure compare methods and portfolio sizes on the same draws.
//
// Report merges the raw files of an experiment and writes its Markdown
// table and SVG/PNG figures; the same raw results give byte-identical tables.
package experiments
