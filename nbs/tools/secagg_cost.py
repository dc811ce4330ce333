"""What SecAgg+ costs: the demo federation on Flower's simulation engine, plain and through SecAgg+, one after the
other for each seed, in one process: per round (after the first) its wall time and the bytes of every message, and
the final mean validation accuracy, paired by seed.

    cd nbs && python tools/secagg_cost.py --out results/flower/secagg.json   # about 8 minutes on 2 cores

Needs LINCEIVER_DATA (the demo reads the digits and synthesizes its tones)."""
import argparse, json, os, platform, statistics, sys, tempfile, time
from pathlib import Path
from linceiver.flower import FlowerRun, run_flower_simulation

if __name__ == '__main__':
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--out', required=True, help='write the results as JSON here')
    parser.add_argument('--rounds', type=int, default=3)
    parser.add_argument('--seeds', default='0,1,2')
    args = parser.parse_args()
    seeds, runs = [int(s) for s in args.seeds.split(',')], []
    later = lambda h, key: statistics.mean(key(r) for r in h['rounds'][1:])
    with tempfile.TemporaryDirectory() as tmp:
        for seed in seeds:
            for name, secure in (('plain', False), ('secagg', True)):
                run = FlowerRun(federation='demo', rounds=args.rounds, seed=seed, device='cpu', threads=1,
                                out=f"{tmp}/{name}-{seed}", secure_aggregation=secure)
                h = run_flower_simulation(run)
                runs.append(dict(seed=seed, engine=name, seconds=later(h, lambda r: r['seconds']),
                                 bytes=later(h, lambda r: r['wire_bytes_up'] + r['wire_bytes_down']),
                                 val_accuracy=h['rounds'][-1]['mean_val_accuracy']))
                print(runs[-1], flush=True)
    out = Path(args.out); out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(dict(
        command=' '.join(['python', *sys.argv]), when=time.strftime('%Y-%m-%d'), rounds=args.rounds, seeds=seeds,
        machine=f"{platform.processor() or platform.machine()}, {len(os.sched_getaffinity(0))} cores",
        runs=runs), indent=1) + '\n')
