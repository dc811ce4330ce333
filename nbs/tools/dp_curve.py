"""What differential privacy costs on the demo: Linceiver FL with client-level DP at several ε against Linceiver FL
without DP and local-only training, in-process, on every seed. The clip is chosen on validation (seed 0, at the
smallest ε), as experiment 3 chooses it; every final run reads its clients' test splits once, after the last round.

    cd nbs && python tools/dp_curve.py --out results/privacy/demo.json   # 21 runs of 3 rounds

Needs LINCEIVER_DATA (the demo reads the digits and synthesizes its tones). Resumes: runs already in --out are kept."""
import argparse, json, os, platform, sys, time
from pathlib import Path
from linceiver.federations import load_federation_config
from linceiver.server import noise_for_epsilon
from linceiver.experiments import choose_on_validation
from linceiver.exp_fed import federation_cell

if __name__ == '__main__':
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--out', required=True, help='the results as JSON (read first: a rerun resumes)')
    parser.add_argument('--seeds', default='0,1,2')
    parser.add_argument('--rounds', type=int, default=3, help="the demo's rounds (its preset has 5; 3 as secagg_cost)")
    parser.add_argument('--epsilons', default='1,4,16,64', help='the ε each private run spends over its rounds')
    parser.add_argument('--clips', default='0.1,0.5,2', help='the clips tried on validation (seed 0, smallest ε)')
    args = parser.parse_args()
    seeds, epsilons = [int(s) for s in args.seeds.split(',')], [float(e) for e in args.epsilons.split(',')]
    clips, config = [float(c) for c in args.clips.split(',')], load_federation_config('demo')
    config['federation']['rounds'] = rounds = args.rounds
    out = Path(args.out)
    done = json.loads(out.read_text())['runs'] if out.exists() else []
    key = lambda c: json.dumps({k: c[k] for k in ('phase', 'method', 'epsilon', 'clip', 'seed')})
    have = {key(r): r for r in done}

    def cell(phase, method, seed, epsilon=None, clip=None):
        overrides = dict(test_rounds='last' if phase == 'final' else 'never')
        if epsilon is not None:
            overrides.update({'privacy.noise': noise_for_epsilon(epsilon, rounds), 'privacy.seed': seed,
                              **({} if clip is None else {'privacy.clip': clip})})
        return dict(phase=phase, method=method, epsilon=epsilon, clip=clip, seed=seed, config=config, test_set=False,
                    overrides=overrides)

    def run(c):
        if key(c) not in have:
            start = time.perf_counter()
            row = federation_cell(c, 'cpu')
            have[key(c)] = {**{k: c[k] for k in ('phase', 'method', 'epsilon', 'clip', 'seed')},
                            **{k: row.get(k) for k in ('chosen_clip', 'val_mean_accuracy', 'mean_accuracy',
                                                       'val_curve', 'converged')},
                            'noise': c['overrides'].get('privacy.noise'), 'seconds': time.perf_counter() - start}
            print(have[key(c)], flush=True)
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(json.dumps(dict(
                command=' '.join(['python', *sys.argv]), when=time.strftime('%Y-%m-%d'), rounds=rounds, seeds=seeds,
                epsilons=epsilons, clips=clips, delta=1e-5,
                machine=f"{platform.processor() or platform.machine()}, {len(os.sched_getaffinity(0))} cores",
                runs=list(have.values())), indent=1) + '\n')
        return have[key(c)]

    tuned = [run(cell('tune', 'linceiver_dp', seeds[0], min(epsilons), clip)) for clip in clips]
    pick = dict(choose=dict(where=dict(phase='tune', method='linceiver_dp'), fields=dict(clip='privacy.clip'),
                            metric='val_mean_accuracy'))
    for seed in seeds:
        for method in ('linceiver', 'local'): run(cell('final', method, seed))
        for epsilon in epsilons:
            chosen = choose_on_validation({**cell('final', 'linceiver_dp', seed, epsilon), **pick}, tuned)
            run({**chosen, 'clip': chosen['chosen_clip']})
