"""Pilot for experiment 3c's reduced scale (12b): the honest federation of one tuning cell (no attack, the default
defence, seed 0) at a given number of rounds, local epochs and learning rate; its validation curve says where
training flattens. One torch thread. Writes <out>/r<rounds>e<epochs>lr<lr>.json. From the repository root:
  LINCEIVER_DATA=../shared/data .venv/bin/python nbs/tools/attack_pilot.py ROUNDS EPOCHS LR OUT"""
import json, sys, time
from pathlib import Path
import torch
from linceiver import exp_attacks

rounds, epochs, lr, out = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), Path(sys.argv[4])
torch.set_num_threads(1)
exp_attacks.ATTACK_SCALES['reduced'] = dict(exp_attacks.ATTACK_SCALES['reduced'], rounds=rounds, local_epochs=epochs,
                                            lrs=(lr,))
cell = exp_attacks.attacks('reduced', (0,)).cells[0]  # the tuning cell at this rate
start = time.perf_counter()
row = exp_attacks.attack_cell(cell)
result = dict(rounds=rounds, local_epochs=epochs, lr=lr, seed=0, threads=1, train_seconds=time.perf_counter() - start,
              val_mean_accuracy=row.get('val_mean_accuracy'), converged=row.get('converged'),
              val_curve=json.loads(row['val_curve']), command=' '.join(['nbs/tools/attack_pilot.py', *sys.argv[1:]]))
out.mkdir(parents=True, exist_ok=True)
(out / f"r{rounds}e{epochs}lr{lr:g}.json").write_text(json.dumps(result, indent=1))
print(result['val_mean_accuracy'], result['converged'])
