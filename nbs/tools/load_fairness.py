"""Fair under load: the wall time of a federated run with each torch thread count, on an idle machine and beside
one or two processes that keep a core busy each. Each run is its own `linceiver_fl` process; a run past the time
limit is stopped and recorded as such.

    cd nbs && python tools/load_fairness.py --out results/load/fairness.json   # about 15 minutes on 2 cores

Needs LINCEIVER_DATA (the ten-client run reads Fashion-MNIST). Run it on a machine that nothing else is using:
the busy cores are the script's own."""
import argparse, json, os, platform, subprocess, sys, tempfile, time
from pathlib import Path

TEN_CLIENTS = """
import sys; from dataclasses import replace
from linceiver.federations import load_federation_config, build_federation
from linceiver.fedavg import run_federation
config = load_federation_config('fmnist')
config['clients'][0].update(train_per_client=200, test_per_client=100, group_average=[])  # as measured before
specs, cfg = build_federation(config)
specs = [replace(s, dataset_test=None) for s in specs]  # each client's own held-out draw only
run_federation(specs, replace(cfg, rounds=2, threads=int(sys.argv[1])), progress=False)
"""
RUNS = {  # workload -> the command of one run, given the thread count
    'demo, 2 rounds': lambda threads, out: ['linceiver_fl', '--federation', 'demo', '--rounds', '2', '--threads',
                                            str(threads), '--quiet', '--out', out],
    'ten FMNIST clients (200 images each), 2 rounds': lambda threads, out: [sys.executable, '-c', TEN_CLIENTS,
                                                                            str(threads)],
}
BUSY = 'while True: pass'  # one process keeps one core busy

def timed(command, threads:int, limit:float) -> float|None:
    "Seconds one run takes with `threads` torch threads; None when it passes `limit` and is stopped."
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        p = subprocess.Popen(command(threads, f"{tmp}/run"), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                             env={k: v for k, v in os.environ.items() if k != 'OMP_NUM_THREADS'})
        try: _, err = p.communicate(timeout=limit)
        except subprocess.TimeoutExpired: p.kill(); p.communicate(); return None
        if p.returncode: raise RuntimeError(f"{command(threads, '')[:3]} failed: {err.strip()[-300:]}")
        return time.perf_counter() - start

if __name__ == '__main__':
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--out', required=True, help='write the results as JSON here')
    parser.add_argument('--threads', default='1,2', help='torch thread counts to compare')
    parser.add_argument('--limit', type=float, default=180, help='seconds after which a run is stopped')
    args = parser.parse_args()
    cores = len(os.sched_getaffinity(0))
    rows = []
    for busy in range(cores + 1):
        hogs = [subprocess.Popen([sys.executable, '-c', BUSY]) for _ in range(busy)]
        try:
            for workload, command in RUNS.items():
                for threads in map(int, args.threads.split(',')):
                    seconds = timed(command, threads, args.limit)
                    rows.append(dict(workload=workload, busy_cores=busy, threads=threads, seconds=seconds))
                    print(rows[-1], flush=True)
        finally:
            for h in hogs: h.kill()
    out = Path(args.out); out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(dict(command=' '.join(['python', *sys.argv]), cores=cores, limit=args.limit,
                                   machine=f"{platform.machine()}, {platform.processor() or platform.system()}",
                                   rows=rows), indent=1))
