"""Experiment 2's fixed-rank tuning cell with another image adapter, on validation only: does a cheaper or better
adapter (pixel patches, the convolutional stem) let the reference reach the issue's 98 % on MNIST at the reduced
scale, and at what cost per cell? Each variant trains exactly as `linceiver_experiment adaptive_rank --scale
reduced` trains its first tuning cell of the dataset, but with the adapter options given; the test split is not read.

    python nbs/tools/adapter_probe.py --dataset mnist --lr 0.001 --adapters patch_size=2,stem_channels=32 \\
        --out nbs/results/exp_adaptive/adapter-probe.json
"""
import argparse, json, time
from pathlib import Path
import torch
from linceiver.experiments import get_experiment, git_commit, load_entry

p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
p.add_argument('--dataset', default='mnist'); p.add_argument('--lr', type=float, default=1e-3)
p.add_argument('--seed', type=int, default=0); p.add_argument('--threads', type=int, default=1)
p.add_argument('--adapters', nargs='+', default=['patch_size=2,stem_channels=32'],
               help='one variant each: comma-separated adapter options, e.g. patch_size=2,stem_channels=32')
p.add_argument('--scale', default='reduced', help='the scale whose recipe trains (quick: a smoke test)')
p.add_argument('--out', default=None)
args = p.parse_args()
torch.set_num_threads(args.threads)
experiment = get_experiment('adaptive_rank', args.scale, str(args.seed))
base = next(c for c in experiment.cells if c['phase'] == 'tune' and c['dataset'] == args.dataset)
run_cell = load_entry(experiment.run_cell)
out = Path(args.out) if args.out else None
record = json.loads(out.read_text()) if out and out.exists() else dict(rows=[])  # one file gathers every variant
commit = git_commit()  # the code that trains, read before it does
for variant in args.adapters:
    options = {k: int(v) for k, v in (kv.split('=') for kv in variant.split(','))}
    cell = dict(base, lr=args.lr, overrides=dict(lr=args.lr), adapter={**base['adapter'], **options})
    start = time.perf_counter()
    row = run_cell(cell, torch.device('cpu'), 'fp32')
    keep = ('val_accuracy', 'val_curve', 'converged', 'train_seconds', 'parameters', 'train_flops_per_example')
    record['rows'].append(dict(dataset=args.dataset, adapter=options, lr=args.lr, seed=args.seed, threads=args.threads,
                               **{k: row.get(k) for k in keep}, wall_seconds=time.perf_counter() - start,
                               git_commit=commit, command='python nbs/tools/adapter_probe.py ' +
                               f"--dataset {args.dataset} --lr {args.lr:g} --scale {args.scale} --adapters {variant}"))
    print(json.dumps(record['rows'][-1]))
    if out: out.parent.mkdir(parents=True, exist_ok=True); out.write_text(json.dumps(record, indent=1))
