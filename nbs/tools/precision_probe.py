"""What bf16 autocast saves on this CPU, side by side: the training-step time of experiment 1's models (the baseline,
Linceiver at k = 32 and 128) in fp32 and in bf16, interleaved round by round in one process (each round times
fp32 first, then bf16), one torch thread.
Issue 21 asks for each way of making the plateau scale fit to be measured; this is the cost half (whether bf16 loses
validation accuracy is the other, and needs training runs).

    python nbs/tools/precision_probe.py [--rounds 5] [--steps 10] [--out nbs/results/bench-precision/probe.json]
"""
import argparse, json, platform, statistics, time
from pathlib import Path
import torch
from linceiver.experiments import get_experiment, cell_model, git_commit
from linceiver.perceiver import adamw, train_step

p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
p.add_argument('--rounds', type=int, default=5); p.add_argument('--steps', type=int, default=10)
p.add_argument('--out', default=None)
args = p.parse_args()
torch.set_num_threads(1)
cells = {(c['model'], c['k']): c for c in get_experiment('k_sweep', 'reduced', '0').cells
         if c['phase'] == 'final' and c['projection'] in (None, 'learned')}
chosen = [('perceiver_io', None), ('linceiver', 32), ('linceiver', 128)]
batch = cells[chosen[0]]['recipe']['batch_size']
times = {(m, k, p): [] for m, k in chosen for p in ('fp32', 'bf16')}
models = {}
for m, k in chosen:
    data, model, _, _ = cell_model(cells[m, k], torch.device('cpu'))
    x, _, y = data.train.batch(torch.arange(batch))
    models[m, k] = (model, adamw(model.parameters(), torch.device('cpu'), lr=1e-3), x, y)
for r in range(args.rounds + 1):  # round 0 warms up
    for (m, k), (model, opt, x, y) in models.items():
        for precision in ('fp32', 'bf16'):
            start = time.perf_counter()
            for _ in range(args.steps): train_step(model, opt, x, y, precision=precision)
            if r: times[m, k, precision].append((time.perf_counter() - start) / args.steps)
rows = [dict(model=m, k=k, fp32_ms=1e3 * statistics.median(times[m, k, 'fp32']),
             bf16_ms=1e3 * statistics.median(times[m, k, 'bf16'])) for m, k in chosen]
for r in rows: r['bf16_over_fp32'] = r['bf16_ms'] / r['fp32_ms']
record = dict(command='python nbs/tools/precision_probe.py ' + ' '.join(f'--{k} {v}' for k, v in vars(args).items()
                                                                          if v is not None),
              git_commit=git_commit(), machine=platform.processor() or platform.machine(), threads=1, batch_size=batch,
              what='median training-step time over rounds; in each round every model steps in fp32, then in bf16 autocast', rows=rows)
print(json.dumps(rows, indent=1))
if args.out:
    Path(args.out).parent.mkdir(parents=True, exist_ok=True); Path(args.out).write_text(json.dumps(record, indent=1))
