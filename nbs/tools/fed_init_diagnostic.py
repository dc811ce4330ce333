"""Diagnostic for issue 15: Linceiver FL with the client-side parts initialised per client (the default), from one
common start per group (`client_init='group'`), and with the adapter and encoder also averaged within the group
(`group_average`), on experiment 3's reduced ten-client federation (seed 0; the whole-test-set evaluation skipped).

    cd nbs && python tools/fed_init_diagnostic.py VARIANT PARTITION --out results/exp_fed/init_diagnostic
    # VARIANT: default | group_avg | same_init | same_init_gavg; PARTITION: iid | dir0.5 | dir0.1 (about 2.5 min each)

Writes VARIANT-PARTITION.json: the mean held-out accuracy after every round."""
import argparse, json, time
from dataclasses import replace
from pathlib import Path
import torch
from linceiver.exp_fed import ten_clients
from linceiver.federations import build_federation
from linceiver.fedavg import run_federation

VARIANTS = dict(default={}, group_avg=dict(group_average=('adapter', 'encoder')), same_init=dict(client_init='group'),
                same_init_gavg=dict(client_init='group', group_average=('adapter', 'encoder')))

def main():
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument('variant', choices=VARIANTS); args.add_argument('partition', choices=('iid', 'dir0.5', 'dir0.1'))
    args.add_argument('--out', default='results/exp_fed/init_diagnostic')
    args = args.parse_args()
    torch.set_num_threads(1)
    cell = next(c for c in ten_clients('reduced', (0,)).cells
                if (c['partition'], c['algorithm'], c['lever']) == (args.partition, 'linceiver', 'none'))
    specs, cfg = build_federation(cell['config'], seed=cell['seed'])
    specs = [replace(s, dataset_test=None) for s in specs]
    start = time.perf_counter()
    history = run_federation(specs, replace(cfg, **VARIANTS[args.variant]), 'linceiver', progress=False)
    out = Path(args.out); out.mkdir(parents=True, exist_ok=True)
    record = dict(variant=args.variant, partition=args.partition, seed=cell['seed'], overrides=VARIANTS[args.variant],
                  mean_accuracy=[r['mean_accuracy'] for r in history['rounds']],
                  seconds=round(time.perf_counter() - start, 1), command=f"python tools/fed_init_diagnostic.py "
                  f"{args.variant} {args.partition} --out {args.out}")
    (out / f'{args.variant}-{args.partition}.json').write_text(json.dumps(record, indent=1))
    print(args.variant, args.partition, round(record['mean_accuracy'][-1], 4))

if __name__ == '__main__': main()
