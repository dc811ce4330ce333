"""A battery of bad inputs, tried as a careless or hostile user would: each is run as its own process, and what
happened is classified as a clean error (non-zero exit, no traceback, the last line names the problem), a traceback,
a silent run (exit 0 where an error was due) or a loss (a run's results overwritten or mixed).

    cd nbs && python tools/bad_inputs.py --out results/bad_inputs.json   # about 6 minutes

Needs LINCEIVER_DATA (the real datasets, read-only: the cases that corrupt data work on copies)."""
import argparse, json, os, shutil, signal, subprocess, sys, tempfile, time
from pathlib import Path

DATA = Path(os.environ.get('LINCEIVER_DATA', 'data')).absolute()
QUICK = ['--rounds', '1', '--max_local_batches', '1', '--quiet']

def fsdd_toml(path:Path, dataset:str='fsdd', federation:dict|None=None, model:dict|None=None,
              clients:dict|None=None) -> Path:
    "A small federation of two clients of one dataset; each table's fields (TOML literals) may be overridden."
    tables = dict(federation={**dict(rounds='1', batch_size='16'), **(federation or {})},
                  model={**dict(m='8', d='16', depth='1', heads='2', k='8'), **(model or {})})
    table = lambda fields: '\n'.join(f"{k} = {v}" for k, v in fields.items())
    text = '\n'.join(f"[{name}]\n{table(fields)}\n" for name, fields in tables.items())
    client = {**dict(name=f'"{dataset}"', dataset=f'"{dataset}"', clients='2', partition='"iid"'), **(clients or {})}
    path.write_text(text + f"[[clients]]\n{table(client)}\n")
    return path

def run(argv:list[str], env:dict|None=None, timeout:float=300, cwd:Path|None=None) -> tuple[int, str, str]:
    p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, cwd=cwd, env={**os.environ, **(env or {})})
    return p.returncode, p.stdout, p.stderr

def copy_data(tmp:Path, *names:str) -> Path:
    "A private data root holding copies of the named datasets (and nothing else)."
    root = tmp / f"data-{'-'.join(names)}-{len(list(tmp.iterdir()))}"
    for name in names: shutil.copytree(DATA / name, root / name)
    return root

def cases(tmp:Path):
    "Yield (class, name, expect, action): `action()` returns (rc, stdout, stderr, lost)."
    fl = lambda *args, env=None: (lambda: (*run(['linceiver_fl', *args], env), False))
    toml = lambda name, **kw: str(fsdd_toml(tmp / f"{name.split()[0]}-{len(list(tmp.iterdir()))}.toml", **kw))
    # 4. configs validated where they enter
    for table, field, value in [('model', 'm', '0'), ('model', 'd', '0'), ('model', 'depth', '-1'), ('model', 'k', '0'),
                                ('model', 'heads', '3'), ('federation', 'lr', '"fast"'), ('federation', 'batch_size', '0'),
                                ('federation', 'rounds', '0'), ('federation', 'fraction', '2.0'),
                                ('federation', 'learning_rate', '0.1'), ('clients', 'train_per_client', '-5'),
                                ('clients', 'test_per_client', '-1'), ('clients', 'clients', '0'),
                                ('clients', 'options', '{ n_mels = 0 }'), ('clients', 'partition', '"pathological"'),
                                ('clients', 'partition', '"dirichlet"\nalpha = -1.0'),
                                ('federation', 'min_clients', '50'), ('federation', 'lr', '1e30'),
                                ('clients', 'clients', '5000'), ('clients', 'test_per_client', '1000000'),
                                ('clients', 'partition', '"shards"\nshards_per_client = 200000'),
                                ('clients', 'adapter', '{ c = 0 }')]:
        yield 'configs', f"TOML [{table}] {field} = {value.splitlines()[0]}", 'error', \
            fl('--federation', toml(field, **{table: {field: value}}), *QUICK)
    yield 'configs', 'TOML dtmf options = { duration = -1.0 }', 'error', \
        fl('--federation', toml('dtmf', dataset='dtmf', clients=dict(options='{ duration = -1.0 }')), *QUICK)
    deep = tmp / 'deep.toml'; deep.write_text('a = ' + '[' * 2000 + ']' * 2000)
    yield 'configs', 'TOML nested 2,000 levels deep', 'error', fl('--federation', str(deep), *QUICK)
    yield 'configs', 'TOML update_norm_bound = "none" (a valid way to turn it off)', 'ok', \
        fl('--federation', toml('none', federation=dict(update_norm_bound='"none"')), *QUICK)
    yield 'configs', "TOML group_complement = true without 'stack_mlp'", 'error', \
        fl('--federation', toml('complement', federation=dict(group_complement='true')), *QUICK)
    for flags in (['--dp_clip', '1.0'], ['--engine', 'flower', '--secure_aggregation']):  # group parts travel outside both
        yield 'configs', f"TOML a table's group_average = [\"encoder\"] with {' '.join(flags)}", 'error', \
            fl('--federation', toml('grouped', clients=dict(group_average='["encoder"]')), *flags, *QUICK)
    yield 'configs', 'linceiver_bench --batch_size 0', 'error', lambda: (*run(['linceiver_bench', '--batch_size', '0']), False)
    broken = tmp / 'broken.toml'; broken.write_text('[federation\nrounds = 1')
    yield 'configs', 'TOML syntax error', 'error', fl('--federation', str(broken), *QUICK)
    yield 'configs', '--rounds 0', 'error', fl('--rounds', '0', '--quiet')
    yield 'configs', '--rounds -3', 'error', fl('--rounds', '-3', '--quiet')
    yield 'configs', '--seed abc', 'error', fl('--seed', 'abc', '--quiet')
    yield 'configs', '--max_local_batches 0', 'error', fl('--max_local_batches', '0', '--quiet')
    yield 'configs', '--federation nope', 'error', fl('--federation', 'nope', '--quiet')
    yield 'configs', '--algorithm fedprox', 'error', fl('--algorithm', 'fedprox', '--quiet')
    yield 'configs', 'linceiver_demo --epochs 0', 'error', lambda: (*run(['linceiver_demo', '--epochs', '0']), False)
    yield 'configs', 'linceiver_demo --k 100 (> n = 64)', 'error', lambda: (*run(['linceiver_demo', '--k', '100']), False)
    yield 'configs', 'linceiver_bench --ns 12,x', 'error', lambda: (*run(['linceiver_bench', '--ns', '12,x']), False)
    # 5. commands speak to people
    yield 'commands', '--out ""', 'error', fl('--out', '', *QUICK)
    def interrupted_importing():
        p = subprocess.Popen(['linceiver_fl', '--quiet', '--out', str(tmp / 'never')], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        time.sleep(1.5); p.send_signal(signal.SIGINT); stdout, stderr = p.communicate(timeout=60)
        return p.returncode, stdout, stderr, False
    yield 'commands', 'Ctrl-C 1.5 s after start (importing)', 'error', interrupted_importing
    yield 'commands', '--resume without --out', 'error', fl('--resume', '--quiet')
    yield 'commands', '--resume of an empty folder', 'error', fl('--resume', '--out', str(tmp / 'nothing-here'), '--quiet')
    afile = tmp / 'a-file'; afile.write_text('x')
    yield 'commands', '--out is a file', 'error', fl('--out', str(afile), *QUICK)
    yield 'commands', 'missing dataset, offline', 'error', fl('--federation', 'fmnist', '--data_dir', str(tmp / 'no-data'),
                                                             '--offline', *QUICK)
    def interrupted():
        out = tmp / 'interrupted'
        p = subprocess.Popen(['linceiver_fl', '--out', str(out), '--rounds', '3', '--quiet'], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True,  # Ctrl-C reaches it even from a background shell:
                             preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        deadline = time.time() + 120
        while time.time() < deadline and not (out / 'linceiver' / 'checkpoint.pt').exists(): time.sleep(0.2)
        p.send_signal(signal.SIGINT); stdout, stderr = p.communicate(timeout=60)
        ok = '--resume' in stderr or 'nothing was saved' in stderr
        return p.returncode, stdout, stderr if ok else stderr + '\n(no resume hint)', False
    yield 'commands', 'Ctrl-C during a run', 'error', interrupted
    # 1. runs never overwrite each other
    def second_run_same_out():
        out = tmp / 'taken'
        first = run(['linceiver_fl', '--out', str(out), *QUICK])
        before = {str(p): p.read_bytes() for p in out.rglob('*') if p.is_file()}
        rc, stdout, stderr = run(['linceiver_fl', '--out', str(out), '--seed', '1', *QUICK])
        after = {str(p): p.read_bytes() for p in out.rglob('*') if p.is_file()}
        return rc, stdout, stderr, first[0] != 0 or before != after
    yield 'runs', 'second run into the same --out', 'error', second_run_same_out
    def parallel_same_out():
        out = tmp / 'raced'
        procs = [subprocess.Popen(['linceiver_fl', '--out', str(out), '--seed', str(s), *QUICK], stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for s in (0, 1)]
        results = [(p.wait(timeout=300), *p.communicate()) for p in procs]
        winners = [r for r in results if r[0] == 0]
        seed = json.loads((out / 'federation.json').read_text())['resolved']['seed'] if winners else None
        history = json.loads((out / 'linceiver' / 'history.json').read_text()) if winners else {}
        lost = len(winners) != 1 or history.get('seed') != seed
        loser = next((r for r in results if r[0] != 0), (0, '', ''))
        return loser[0], loser[1], loser[2], lost
    yield 'runs', 'two runs started together on one --out', 'error', parallel_same_out
    def parallel_defaults():
        work = tmp / 'defaults'; work.mkdir()
        procs = [subprocess.Popen(['linceiver_fl', '--seed', str(s), *QUICK], cwd=work, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for s in (0, 1, 2)]
        codes = [p.wait(timeout=300) for p in procs]
        folders = [f for f in (work / 'runs').iterdir()] if (work / 'runs').exists() else []
        seeds = sorted(json.loads((f / 'federation.json').read_text())['resolved']['seed'] for f in folders)
        lost = codes != [0, 0, 0] or seeds != [0, 1, 2]
        return (1 if lost else 0), '', f"folders {len(folders)}, seeds {seeds}", lost
    yield 'runs', 'three runs in parallel, default folders', 'ok', parallel_defaults
    def resume_other_config():
        out = tmp / 'to-resume'
        run(['linceiver_fl', '--out', str(out), *QUICK])
        before = {str(p): p.read_bytes() for p in out.rglob('*') if p.is_file()}
        rc, stdout, stderr = run(['linceiver_fl', '--out', str(out), '--resume', '--seed', '5', *QUICK])
        return rc, stdout, stderr, before != {str(p): p.read_bytes() for p in out.rglob('*') if p.is_file()}
    yield 'runs', '--resume with another config', 'error', resume_other_config
    def bench_taken():
        out = tmp / 'bench-taken'; out.mkdir(); (out / 'notes.txt').write_text('mine')
        rc, stdout, stderr = run(['linceiver_bench', '--quick', '--out', str(out)])
        return rc, stdout, stderr, (out / 'notes.txt').read_text() != 'mine' or (out / 'bench.json').exists()
    yield 'runs', 'linceiver_bench --out a folder with files', 'error', bench_taken
    def experiment_twice():
        out, cmd = tmp / 'exp-twice', ['linceiver_experiment', 'k_sweep', '--scale', 'quick', '--seeds', '0', '--quiet']
        first = subprocess.Popen([*cmd, '--out', str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.time() + 120
        while time.time() < deadline and not (out / 'experiment.json').exists(): time.sleep(0.2)
        rc, stdout, stderr = run([*cmd, '--out', str(out)])
        first_rc, (_, first_err) = first.wait(timeout=600), first.communicate()
        return rc, stdout, stderr + ('' if first_rc == 0 else f"\n(the first run failed: {first_err.strip()[-300:]})"), first_rc != 0
    yield 'runs', 'linceiver_experiment twice into one --out', 'error', experiment_twice
    def damaged(name:str):
        def action():
            out = tmp / f"damaged-{name}"
            run(['linceiver_fl', '--out', str(out), *QUICK])
            (out / name).write_text((out / name).read_text()[:-20])  # cut short, as a full disk leaves it
            return (*run(['linceiver_fl', '--out', str(out), '--resume', *QUICK]), False)
        return action
    yield 'checkpoints', 'resume with federation.json cut short', 'error', damaged('federation.json')
    # 7. checkpoints and caches
    def tampered_checkpoint():
        out = tmp / 'tampered'
        run(['linceiver_fl', '--out', str(out), '--rounds', '1', '--max_local_batches', '1', '--quiet'])
        ckpt = out / 'linceiver' / 'checkpoint.pt'; data = bytearray(ckpt.read_bytes())
        data[len(data) // 2] ^= 0xFF; ckpt.write_bytes(bytes(data))
        return (*run(['linceiver_fl', '--out', str(out), '--resume', '--rounds', '1', '--max_local_batches', '1',
                      '--quiet']), False)
    yield 'checkpoints', 'resume from a tampered checkpoint', 'error', tampered_checkpoint
    def readonly_cache():
        cache = tmp / 'ro-cache'; cache.mkdir(); cache.chmod(0o555)
        return (*run(['linceiver_fl', '--federation', toml('ro'), *QUICK], env=dict(LINCEIVER_CACHE=str(cache))), False)
    yield 'checkpoints', 'read-only cache folder', 'ok', readonly_cache
    # 3. corrupt data is detected, not learned
    def corrupted(names, change, federation, expect_in=''):
        def action():
            root = copy_data(tmp, *names); change(root)
            rc, stdout, stderr = run(['linceiver_fl', '--federation', federation, '--data_dir', str(root), '--offline',
                                      *QUICK], env=dict(LINCEIVER_CACHE=str(tmp / 'cache')))
            return rc, stdout, stderr, False
        return action
    def flip_bytes(path:Path, offset:int=4096):
        data = bytearray(path.read_bytes()); data[offset:offset + 64] = bytes(255 - b for b in data[offset:offset + 64])
        path.chmod(0o644); path.write_bytes(bytes(data))
    def same_mtime(path:Path, change):
        st = path.stat(); change(path); os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    wav = lambda root: sorted((root / 'fsdd' / 'recordings').glob('*.wav'))[7]
    fsdd = toml('fsdd-clean')
    yield 'data', 'a wav corrupted, same size and mtime', 'error', corrupted(('fsdd',), lambda r: same_mtime(wav(r), flip_bytes), fsdd)
    yield 'data', 'an empty wav', 'error', corrupted(('fsdd',), lambda r: wav(r).write_bytes(b''), fsdd)
    def long_wav(root):
        import numpy as np, soundfile as sf
        sf.write(wav(root), (np.random.default_rng(0).standard_normal(8000 * 60) * 0.1).astype('float32'), 8000)
    yield 'data', 'a 60-second wav', 'error', corrupted(('fsdd',), long_wav, fsdd)
    mnist_toml = fsdd_toml(tmp / 'mnist.toml', 'mnist')
    labels = lambda root: root / 'MNIST' / 'raw' / 'train-labels-idx1-ubyte'
    images = lambda root: root / 'MNIST' / 'raw' / 'train-images-idx3-ubyte'
    def truncate(path:Path): path.chmod(0o644); path.write_bytes(path.read_bytes()[:-1000])
    yield 'data', 'a truncated idx file', 'error', corrupted(('MNIST',), lambda r: truncate(images(r)), str(mnist_toml))
    yield 'data', 'an idx file corrupted, same size', 'error', corrupted(('MNIST',), lambda r: flip_bytes(images(r)), str(mnist_toml))
    def one_class(path:Path):
        data = bytearray(path.read_bytes()); data[8:] = bytes(len(data) - 8); path.chmod(0o644); path.write_bytes(bytes(data))
    yield 'data', 'every training label set to 0', 'error', corrupted(('MNIST',), lambda r: one_class(labels(r)), str(mnist_toml))
    def shuffle_labels(path:Path):
        import random
        data = bytearray(path.read_bytes()); body = list(data[8:]); random.Random(0).shuffle(body)
        path.chmod(0o644); path.write_bytes(bytes(data[:8] + bytes(body)))
    yield 'data', 'training labels shuffled', 'error', corrupted(('MNIST',), lambda r: shuffle_labels(labels(r)), str(mnist_toml))
    sms_toml = fsdd_toml(tmp / 'sms.toml', 'sms_spam')
    sms = lambda root: root / 'sms_spam' / 'SMSSpamCollection'
    def all_ham(path:Path):
        lines = path.read_text(encoding='utf-8').splitlines()
        path.chmod(0o644); path.write_text('\n'.join('ham\t' + l.split('\t', 1)[1] for l in lines) + '\n', encoding='utf-8')
    yield 'data', 'every SMS relabelled ham', 'error', corrupted(('sms_spam',), lambda r: all_ham(sms(r)), str(sms_toml))
    def not_utf8(path:Path): path.chmod(0o644); path.write_bytes(path.read_bytes()[:5000] + b'ham\t\xff\xfe bad\n')
    yield 'data', 'a non-UTF-8 SMS line', 'error', corrupted(('sms_spam',), lambda r: not_utf8(sms(r)), str(sms_toml))
    def empty(path:Path): path.chmod(0o644); path.write_bytes(b'')
    yield 'data', 'an empty SMS file', 'error', corrupted(('sms_spam',), lambda r: empty(sms(r)), str(sms_toml))
    def huge_sms(path:Path): path.chmod(0o644); path.write_text(path.read_text(encoding='utf-8') + 'spam\t' + 'x' * 999_000 + '\n')
    yield 'data', 'one 999 KB SMS message', 'error', corrupted(('sms_spam',), lambda r: huge_sms(sms(r)), str(sms_toml))

def classify(expect:str, rc:int, stderr:str, lost:bool) -> str:
    if lost: return 'lost'
    if 'Traceback (most recent call last)' in stderr: return 'traceback'
    if expect == 'ok': return 'clean' if rc == 0 else 'failed'
    if rc == 0: return 'silent'
    last = [l for l in stderr.strip().splitlines() if l.strip()][-1:] or ['']
    return 'clean' if 'error' in last[0].lower() or 'interrupted' in last[0].lower() else 'unclear'

if __name__ == '__main__':
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--out', help='write the results as JSON here')
    parser.add_argument('--only', help='run only the cases whose name contains this')
    args = parser.parse_args()
    rows, out, start_dir = [], Path(args.out).absolute() if args.out else None, os.getcwd()
    with tempfile.TemporaryDirectory() as tmp:
        os.chdir(tmp)  # runs without --out make their default folders here, not in the caller's folder
        for kind, name, expect, action in cases(Path(tmp)):
            if args.only and args.only not in name: continue
            start = time.time()
            try: rc, stdout, stderr, lost = action()
            except Exception as e: rc, stdout, stderr, lost = -1, '', f"Traceback (most recent call last)\n(battery) {e!r}", False
            outcome = classify(expect, rc, stderr, lost)
            said = ([l for l in stderr.strip().splitlines() if l.strip()] or [''])[-1][:200]
            rows.append(dict(kind=kind, case=name, expect=expect, outcome=outcome, exit=rc, said=said,
                             seconds=round(time.time() - start, 1)))
            print(f"{outcome:9s} {kind:11s} {name}: {said}", flush=True)
        os.chdir(start_dir)
    counts = {k: sum(r['outcome'] == k for r in rows) for k in ('clean', 'traceback', 'silent', 'lost', 'unclear', 'failed')}
    print(json.dumps(dict(tried=len(rows), **counts)))
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(dict(command=' '.join(['python', *sys.argv]),
                                                  tried=len(rows), counts=counts, cases=rows), indent=1))
