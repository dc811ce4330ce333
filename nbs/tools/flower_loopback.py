"""A real Flower deployment of a linceiver federation on 127.0.0.1, secured, with its refusals checked.

Makes a throwaway CA and certificates; starts `flower-superlink` with TLS and SuperNode authentication; registers
one key per client; starts one `flower-supernode` per client of the federation; runs the rounds with `flwr run`,
first through secure aggregation (SecAgg+), then plainly; checks the results folders. Also the refusals: a SuperNode
with an unregistered key gets no work, a SuperNode that does not trust the CA cannot connect, a client that replies
NaN (a test mod added to a copy of the app's ClientApp) is dropped with its reason while every round completes with
the others, and a SuperNode killed (SIGKILL, with every process it started) once the first round is recorded is
named in the history as dropped while the later rounds complete without it.

Everything listens on 127.0.0.1 only. Every process the script starts is stopped by its own PID at the end, also on
failure or Ctrl-C, and the whole script is bounded by --timeout. Exit code 0: every check passed.

    python nbs/tools/flower_loopback.py [--out DIR] [--federation demo] [--rounds 2] [--kill-client 1] [--timeout 1500]
"""
from __future__ import annotations
import argparse, datetime, ipaddress, json, os, shutil, signal, socket, subprocess, sys, tempfile, time
from pathlib import Path
from cryptography import x509
from cryptography.x509.oid import NameOID
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

HOST = '127.0.0.1'
APP = Path(__file__).resolve().parents[1] / 'flower_app'

def free_port() -> int:
    "A TCP port free on 127.0.0.1 now."
    with socket.socket() as s: s.bind((HOST, 0)); return s.getsockname()[1]

def loopback_app(folder:Path, nan_client:int) -> Path:
    "The library's Flower app, copied into `folder`, whose ClientApp adds a test mod: client `nan_client` replies NaN."
    folder.mkdir()
    for name in ('linceiver_app.py', 'pyproject.toml'): shutil.copy(APP / name, folder)
    shutil.copy(Path(__file__).with_name('fixtures.py'), folder)  # `nan_reply`, the mod
    (folder / 'loopback_app.py').write_text(  # not test_*.py: Flower leaves those out of an app
        '"The loopback test\'s ClientApp: the library\'s, with a client that replies NaN."\n'
        'from fixtures import nan_reply\nfrom linceiver.flower import make_client_app\n'
        f'client_app = make_client_app(mods=[nan_reply({nan_client})])\n')
    toml = folder / 'pyproject.toml'
    old, new = 'clientapp = "linceiver_app:client_app"', 'clientapp = "loopback_app:client_app"'
    assert old in toml.read_text(), f"{APP / 'pyproject.toml'} no longer names {old!r}"
    toml.write_text(toml.read_text().replace(old, new))
    return folder

def write_key(key, path:Path, ssh:bool=False):
    "Write a private key (PEM, or OpenSSH for SuperNode auth) readable by its owner only."
    fmt = serialization.PrivateFormat.OpenSSH if ssh else serialization.PrivateFormat.TraditionalOpenSSL
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, fmt, serialization.NoEncryption()))
    path.chmod(0o600)

def make_ca(folder:Path, name:str) -> tuple:
    "A throwaway certificate authority: its key and self-signed certificate (folder/<name>.crt)."
    key = ec.generate_private_key(ec.SECP384R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True).sign(key, hashes.SHA256()))
    (folder / f'{name}.crt').write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return key, cert

def make_server_cert(folder:Path, ca_key, ca_cert):
    "The SuperLink's key and certificate, signed by the CA, valid for 127.0.0.1 and localhost."
    key = ec.generate_private_key(ec.SECP384R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    san = x509.SubjectAlternativeName([x509.DNSName('localhost'),
                                       x509.IPAddress(ipaddress.ip_address(HOST))])
    cert = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, 'localhost')]))
            .issuer_name(ca_cert.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(san, critical=False).sign(ca_key, hashes.SHA256()))
    write_key(key, folder / 'server.key')
    (folder / 'server.pem').write_bytes(cert.public_bytes(serialization.Encoding.PEM))

def make_node_key(folder:Path, name:str) -> Path:
    "A SuperNode's authentication key pair (P-384, OpenSSH format); returns the public key's path."
    key = ec.generate_private_key(ec.SECP384R1())
    write_key(key, folder / name, ssh=True)
    public = folder / f'{name}.pub'
    ssh = serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    public.write_bytes(key.public_key().public_bytes(*ssh))
    return public


class Processes:
    "The processes this script started, each stopped by its own PID (SIGTERM, then SIGKILL) when it ends."
    def __init__(self, logs:Path): self.started, self.logs = [], logs

    def start(self, name:str, command:list[str], env:dict) -> subprocess.Popen:
        log = open(self.logs / f'{name}.log', 'w')
        p = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        self.started.append((name, p)); print(f"  started {name} (pid {p.pid})", flush=True)
        return p

    def stop_all(self):
        "Stop every started process, then whatever they spawned (Flower's SuperExec and app processes) by PID."
        spawned = descendants([p.pid for _, p in self.started])
        for name, p in reversed(self.started): _stop(p)
        for name, p in self.started: print(f"  stopped {name} (pid {p.pid}, exit {p.returncode})", flush=True)
        for pid in spawned: _kill(pid, signal.SIGTERM)
        time.sleep(2)
        for pid in spawned: _kill(pid, signal.SIGKILL)
        if spawned: print(f"  stopped {len(spawned)} processes they had spawned", flush=True)

def _stop(p:subprocess.Popen):
    if p.poll() is not None: return
    p.send_signal(signal.SIGTERM)
    try: p.wait(10)
    except subprocess.TimeoutExpired: p.kill(); p.wait(10)

def _kill(pid:int, sig:int):
    try: os.kill(pid, sig)
    except ProcessLookupError: pass

def _parents() -> dict[int, int]:
    "Every running process's parent PID."
    parents = {}
    for proc in Path('/proc').iterdir():
        if not proc.name.isdigit(): continue
        try: parents[int(proc.name)] = int((proc / 'stat').read_text().rsplit(')', 1)[1].split()[1])
        except (OSError, ValueError, IndexError): continue
    return parents

def descendants(pids:list[int]) -> list[int]:
    "The running descendants of `pids` (children first found, then theirs)."
    parents, found, frontier = _parents(), [], set(pids)
    while frontier:
        children = [c for c, p in parents.items() if p in frontier and c not in found]
        found += children; frontier = set(children)
    return found

def orphans(markers:list[str]) -> list[tuple[int, str]]:
    "Processes whose command line names one of `markers` (this run's port, our PIDs), outside this script's ancestry."
    ancestors, parents, pid = set(), _parents(), os.getpid()
    while pid > 1: ancestors.add(pid); pid = parents.get(pid, 1)
    found = []
    for proc in Path('/proc').iterdir():
        if not proc.name.isdigit() or int(proc.name) in ancestors: continue
        try: cmd = (proc / 'cmdline').read_bytes().replace(b'\0', b' ').decode() + ' '
        except OSError: continue
        if any(f'{m} ' in cmd for m in markers): found.append((int(proc.name), cmd[:160]))
    return found


def wait_for(what:str, check, timeout:float, every:float=1.):
    "Poll `check()` until it is truthy; a `TimeoutError` naming `what` after `timeout` seconds."
    deadline = time.monotonic() + timeout
    while not (result := check()):
        if time.monotonic() > deadline: raise TimeoutError(f"{what}: not within {timeout:.0f} s")
        time.sleep(every)
    return result

def log_has(path:Path, *texts:str) -> bool:
    return path.exists() and any(t in path.read_text(errors='replace') for t in texts)

def flwr(args:list[str], env:dict, timeout:float=120, log:Path|None=None) -> subprocess.CompletedProcess:
    "Run the `flwr` CLI; its output is returned (and written to `log`), an error raised on failure."
    r = subprocess.run(['flwr', *args], env=env, capture_output=True, text=True, timeout=timeout)
    if log is not None: log.write_text(r.stdout + r.stderr)
    if r.returncode:
        raise RuntimeError(f"flwr {' '.join(args)} failed ({r.returncode}): {r.stdout[-2000:]} {r.stderr[-2000:]}")
    return r


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--out', help="the deployment's folder (default: a new one under runs/)")
    parser.add_argument('--federation', default='demo', help="a preset name or the path of a .toml federation config")
    parser.add_argument('--rounds', type=int, default=2)
    parser.add_argument('--max-local-batches', type=int, default=2)
    parser.add_argument('--timeout', type=float, default=1500, help="seconds for the whole script")
    parser.add_argument('--round-timeout', type=float, default=300, help="seconds the server waits for replies")
    parser.add_argument('--kill-client', type=int, default=1, help="the client whose SuperNode is killed after round 1")
    args = parser.parse_args()
    def out_of_time(*_): raise TimeoutError(f"the script ran over --timeout {args.timeout:g} s")
    def terminated(*_): raise SystemExit("terminated")  # a SIGTERM still stops every process started here
    signal.signal(signal.SIGALRM, out_of_time); signal.signal(signal.SIGTERM, terminated)
    signal.alarm(int(args.timeout))
    sys.path.insert(0, str(APP.parents[1]))
    from linceiver.flower import FlowerRun, flower_environment
    from linceiver.fedavg import load_history

    Path('runs').mkdir(exist_ok=True)
    work = Path(args.out or tempfile.mkdtemp(prefix='flower-loopback-', dir='runs')).absolute()
    work.mkdir(parents=True, exist_ok=True)
    creds, logs = work / 'credentials', work / 'logs'
    creds.mkdir(); logs.mkdir()
    num_clients = FlowerRun(federation=args.federation).num_clients()
    env = os.environ | flower_environment(work / 'flwr-home')
    env['PATH'] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"  # flower-superexec by name
    env['PYTHONPATH'] = os.pathsep.join(p for p in (str(APP.parents[1]), env.get('PYTHONPATH')) if p)
    link = free_port()  # Flower 1.42 serves the Fleet, Control and Runtime APIs on one HTTPS port
    checks, procs = {}, Processes(logs)
    summary = dict(command=' '.join(['python', *sys.argv]), checks=checks)
    print(f"deployment folder {work}\n1. credentials: a throwaway CA, the SuperLink's certificate, {num_clients + 1} "
          "node keys (one never registered), a second CA that nobody trusts", flush=True)
    ca_key, ca_cert = make_ca(creds, 'ca')
    make_server_cert(creds, ca_key, ca_cert)
    make_ca(creds, 'other-ca')
    keys = [make_node_key(creds, f'node-{i}') for i in range(num_clients)]
    make_node_key(creds, 'stranger')  # never registered
    (work / 'flwr-home').mkdir()
    (work / 'flwr-home' / 'config.toml').write_text(
        f'[superlink]\ndefault = "loopback"\n\n[superlink.loopback]\naddress = "{HOST}:{link}"\n'
        f'root-certificates = "{creds / "ca.crt"}"\n')
    try:
        print("2. SuperLink with TLS and SuperNode authentication", flush=True)
        procs.start('superlink', [
            'flower-superlink', '--ssl-ca-certfile', str(creds / 'ca.crt'), '--ssl-certfile', str(creds / 'server.pem'),
            '--ssl-keyfile', str(creds / 'server.key'), '--enable-supernode-auth',
            '--host', HOST, '--port', str(link),  # state in memory: a SQLite file was seen locked under load
            '--disable-runtime-dependency-installation'], env)
        wait_for("the SuperLink", lambda: _listening(link), 60)
        print(f"3. register {num_clients} node keys", flush=True)
        for key in keys: flwr(['supernode', 'register', str(key), 'loopback'], env)
        (logs / 'registered.json').write_text(flwr(['supernode', 'list', 'loopback', '--format', 'json'], env).stdout)
        print(f"4. {num_clients} SuperNodes, one per client, each with its partition-id and its own state folder",
              flush=True)
        for i, key in enumerate(keys):
            procs.start(f'supernode-{i}', [
                'flower-supernode', '--root-certificates', str(creds / 'ca.crt'), '--superlink', f'{HOST}:{link}',
                '--auth-supernode-private-key', str(creds / f'node-{i}'), '--host', HOST, '--port', str(free_port()),
                '--node-config', f'partition-id={i} num-partitions={num_clients} state-dir="{work / f"node-{i}"}"'],
                env)
        print("   and two that must be refused: a node with an unregistered key, a node that does not trust the CA",
              flush=True)
        procs.start('stranger', [
            'flower-supernode', '--root-certificates', str(creds / 'ca.crt'), '--superlink', f'{HOST}:{link}',
            '--auth-supernode-private-key', str(creds / 'stranger'), '--host', HOST, '--port', str(free_port()),
            '--node-config', f'partition-id=0 num-partitions={num_clients} state-dir="{work / "stranger"}"'], env)
        procs.start('untrusting', [
            'flower-supernode', '--root-certificates', str(creds / 'other-ca.crt'), '--superlink', f'{HOST}:{link}',
            '--auth-supernode-private-key', str(creds / 'node-0'), '--host', HOST, '--port', str(free_port()),
            '--node-config', f'partition-id=0 num-partitions={num_clients} state-dir="{work / "untrusting"}"',
            '--max-retries', '3', '--max-wait-time', '20'], env)
        def run_config(out, **extra):
            values = {'out': f'"{out}"', 'federation': f'"{args.federation}"', 'rounds': args.rounds,
                      'max-local-batches': args.max_local_batches, 'device': '"cpu"'} | extra
            return ' '.join(f'{k}={v}' for k, v in values.items())
        print(f"5. flwr run with secure aggregation (SecAgg+): {args.rounds} rounds, every SuperNode, the library's app",
              flush=True)
        secure_out, secure_started = work / 'secagg-results', time.monotonic()
        shutil.copytree(APP, work / 'secagg-app')
        secure_run = procs.start('flwr-run-secagg', [
            'flwr', 'run', str(work / 'secagg-app'), 'loopback', '--stream', '--run-config',
            run_config(secure_out, timeout=args.round_timeout, **{'secure-aggregation': 'true'})], env)
        if secure_run.wait(args.timeout):
            raise RuntimeError(f"flwr run with secure aggregation failed ({secure_run.returncode}); see "
                               f"{logs}/flwr-run-secagg.log")
        secure = wait_for(f"the secure run's results (see {logs / 'flwr-run-secagg.log'})",
                          lambda: _history(secure_out, args.rounds, load_history), 60)
        summary['secure_aggregation'] = dict(seconds=round(time.monotonic() - secure_started, 1),
                                             round_seconds=[round(r['seconds'], 1) for r in secure['rounds']],
                                             final_mean_accuracy=secure['rounds'][-1]['mean_accuracy'])
        checks['secure aggregation: every round completed with every client'] = (
            len(secure['rounds']) == args.rounds and all(r['accepted'] == secure['clients'] for r in secure['rounds']))
        checks['secure aggregation recorded in the history'] = (
            secure.get('secure_aggregation') is True and all('secure_aggregation' in r for r in secure['rounds']))
        for i in range(num_clients): shutil.rmtree(work / f'node-{i}', ignore_errors=True)  # the next run's clients
                                                                                              # start afresh
        nan_client = num_clients - 1  # the test mod: this client replies NaN every round
        killed = args.kill_client % num_clients
        assert killed != nan_client and args.rounds >= 2, "the kill needs a second round and another client"
        print(f"6. flwr run: {args.rounds} rounds; client {nan_client} replies NaN (a test mod); "
              f"SuperNode {killed} is killed once round 1 is recorded", flush=True)
        started = time.monotonic()
        command = ['flwr', 'run', str(loopback_app(work / 'app', nan_client)), 'loopback', '--stream', '--run-config',
                   run_config(work / 'results', timeout=args.round_timeout)]
        run = procs.start('flwr-run', command, env)
        wait_for(f"round 1 in the results folder (see {logs / 'flwr-run.log'})",
                 lambda: _history(work / 'results', 1, load_history) or run.poll() is not None, args.timeout)
        node = dict(procs.started)[f'supernode-{killed}']
        tree = [node.pid] + descendants([node.pid])
        for pid in tree: _kill(pid, signal.SIGKILL)  # as if the machine went away: no goodbye to the SuperLink
        print(f"   killed SuperNode {killed} and its {len(tree) - 1} processes after "
              f"{time.monotonic() - started:.0f} s", flush=True)
        if run.wait(args.timeout): raise RuntimeError(f"flwr run failed ({run.returncode}); see {logs}/flwr-run.log")
        history = wait_for(f"the results folder (see {logs / 'flwr-run.log'})",
                           lambda: _history(work / 'results', args.rounds, load_history), 60)
        seconds = time.monotonic() - started
        names = history['clients']
        others = [n for n in names if n != names[nan_client]]
        first, later = history['rounds'][0], history['rounds'][1:]
        checks['rounds completed'] = len(history['rounds']) == args.rounds
        checks['results folder'] = all((work / 'results' / f).exists() for f in ('history.json', 'history.csv',
                                                                                  'checkpoint.pt'))
        checks['NaN client dropped with its reason, every round'] = all(
            list(r['rejected']) == [names[nan_client]] and 'NaN' in r['rejected'][names[nan_client]][0]
            for r in history['rounds'])
        checks['the other clients trained in round 1'] = first['accepted'] == others
        checks['killed SuperNode named as dropped, the rounds went on without it'] = all(
            'went offline' in r['skipped'].get(names[killed], '') and
            r['accepted'] == [n for n in others if n != names[killed]] for r in later)
        checks['unregistered key refused, got no work'] = (
            log_has(logs / 'stranger.log', 'Failed to activate SuperNode') and not (work / 'stranger').exists())
        checks['node without the CA cannot connect'] = (log_has(logs / 'untrusting.log', 'CERTIFICATE_VERIFY_FAILED')
                                                        and not (work / 'untrusting').exists())
        ours = [p.pid for _, p in procs.started] + descendants([p.pid for _, p in procs.started])
        listening = _listeners(ours)
        (logs / 'listening.txt').write_text('\n'.join(listening))
        checks['everything listens on 127.0.0.1 only'] = bool(listening) and all(a.startswith(f'{HOST}:')
                                                                               for a in listening)
        import platform, flwr as flower
        summary |= dict(machine=f"{platform.machine()}, {os.cpu_count()} CPUs",
                        flwr=flower.__version__, date=time.strftime('%Y-%m-%d'),
                        federation=args.federation, rounds=args.rounds, clients=names, seconds=round(seconds, 1),
                        round_seconds=[round(r['seconds'], 1) for r in history['rounds']],
                        final_mean_accuracy=history['rounds'][-1]['mean_accuracy'], registered=len(keys),
                        killed=names[killed], skipped=[r['skipped'] for r in history['rounds']], checks=checks)
    finally:
        signal.alarm(0)
        print("7. stopping every process started here", flush=True)
        procs.stop_all()
        markers = [f'{HOST}:{link}'] + [f'--parent-pid {p.pid}' for _, p in procs.started]
        for pid, cmd in orphans(markers):  # detached by Flower from a process of ours that already ended
            print(f"  stopping pid {pid}, left by Flower: {cmd}", flush=True); _kill(pid, signal.SIGKILL)
        time.sleep(1)
        checks['no process left behind'] = not orphans(markers)
    (work / 'loopback.json').write_text(json.dumps(summary, indent=1))  # checks included, all of them
    failed = [name for name, ok in checks.items() if not ok]
    for name, ok in checks.items(): print(f"  {'ok  ' if ok else 'FAIL'} {name}")
    print(f"{'all checks passed' if checks and not failed else 'FAILED: ' + ', '.join(failed)}; logs in {logs}")
    sys.exit(0 if checks and not failed else 1)

def _listening(port:int) -> bool:
    with socket.socket() as s: return s.connect_ex((HOST, port)) == 0

def _history(folder:Path, rounds:int, load_history):
    try: h = load_history(folder)
    except (OSError, ValueError): return None
    return h if len(h['rounds']) == rounds else None

def _listeners(pids:list[int]) -> list[str]:
    "The local TCP addresses the processes `pids` listen on (from `ss`)."
    r = subprocess.run(['ss', '-ltnpH'], capture_output=True, text=True)
    return [line.split()[3] for line in r.stdout.splitlines() if any(f'pid={pid},' in line for pid in pids)]

if __name__ == '__main__': main()
