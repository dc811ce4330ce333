"""Test fixtures for the notebooks' tests: a toy federation, a toy experiment, identity projections, a NaN-replying
Flower client.

They are not part of the package. A notebook imports them from here with `sys.path.insert(0, 'tools')` (its tests run
in `nbs/`); a test that registers `toy_experiment` names it as 'fixtures:toy_experiment'."""
from __future__ import annotations
from dataclasses import asdict
import torch
from torch import nn
from fastcore.test import test_eq
from linceiver.linformer import LinformerAttention
from linceiver.perceiver import ImageAdapter, AudioAdapter
from linceiver.client import Examples, ClientSpec
from linceiver.experiments import Experiment, Recipe


def toy_federation(samples:int=64, # training samples per client (test: half as many)
                   seed:int=0,
                   image_clients:int=2, # how many image clients
                   sequence_clients:int=2, # how many variable-length sequence ("audio") clients
                  ) -> list[ClientSpec]:
    "Test fixture: image and variable-length sequence clients with different label sets."
    g = torch.Generator().manual_seed(seed)
    def images(num):
        y = torch.randint(4, (num,), generator=g)
        x = torch.randn(num, 1, 8, 8, generator=g) * 0.5
        for i, c in enumerate(y.tolist()): x[i, 0, 4 * (c // 2):4 * (c // 2) + 4, 4 * (c % 2):4 * (c % 2) + 4] += 2.
        return Examples(x, y)
    def sequences(num):
        y = torch.randint(3, (num,), generator=g)
        lengths = torch.randint(10, 33, (num,), generator=g)
        x = torch.randn(num, 32, 8, generator=g) * 0.5
        x[torch.arange(num), :, 2 * y] += 2.
        mask = torch.arange(32) < lengths[:, None]
        return Examples(x * mask[..., None], y, mask)
    specs = [ClientSpec(f'image-{i}', images(samples), images(samples // 2),
                        lambda: ImageAdapter(image_size=8, c=16, num_bands=2), 4, 'image')
             for i in range(image_clients)]
    specs += [ClientSpec(f'audio-{i}', sequences(samples), sequences(samples // 2),
                         lambda: AudioAdapter(max_frames=32, n_mels=8, c=16, num_bands=4), 3, 'audio')
              for i in range(sequence_clients)]
    return specs


def toy_experiment(scale:str, seeds:tuple) -> Experiment:
    "Test fixture: a tiny two-model experiment on scikit-learn's digits ('full': no such dataset; 'reduced': for seed 1)."
    recipe = asdict(Recipe(epochs=1, train_subset=256, test_subset=128))
    missing = lambda seed: scale == 'full' or (scale == 'reduced' and seed == 1)  # cells that fail at once
    cells = [dict(model=name, k=k, dataset='no_such_dataset' if missing(seed) else 'sklearn_digits', seed=seed,
                  adapter=dict(c=16, num_bands=4), recipe=recipe,
                  model_config=dict(m=8, d=16, depth=1, heads=2, k=k or 8,
                                    encoder_attention='full' if k is None else 'linformer'))
             for name, k in (('perceiver_io', None), ('linceiver', 8)) for seed in seeds]
    return Experiment(name='_toy', cells=cells, key=('model', 'k', 'seed'),
                      run_cell='linceiver.experiments:classifier_cell',
                      about=dict(note='test fixture'))


def set_identity_projections(model:nn.Module) -> nn.Module:
    "Test fixture: every Linformer projection of `model` set to the identity (needs k == n)."
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, LinformerAttention):
                for proj in (m.proj_k, m.proj_v):
                    if proj is None: continue
                    if proj.k != proj.n:
                        raise ValueError(f"an identity projection needs k == n, got k={proj.k}, n={proj.n}")
                    proj.E.copy_(torch.eye(proj.n))
    return model


def test_state_eq(a, b):
    "Two state dicts hold the same keys and exactly equal tensors."
    test_eq(sorted(a), sorted(b))
    for key in a: test_eq(a[key], b[key])


def nan_reply(partition:int, # the partition-id whose train replies are spoiled
             ):
    "A Flower client mod for tests: the node serving `partition` replies NaN in its train reply's shared state."
    from flwr.app import ArrayRecord, MessageType
    def mod(msg, context, call_next):
        reply = call_next(msg, context)
        if (msg.metadata.message_type == MessageType.TRAIN and not reply.has_error()
                and int(context.node_config['partition-id']) == partition):
            state = reply.content['arrays'].to_torch_state_dict()
            reply.content['arrays'] = ArrayRecord({k: torch.full_like(v, float('nan')) if v.is_floating_point() else v
                                                   for k, v in state.items()})
        return reply
    return mod


def keep_updates(folder:str, # where each node writes its train replies' shared state (created if missing)
                ):
    "A Flower client mod for tests: every node saves the shared state it sends in a legacy train reply (SecAgg+'s)."
    from pathlib import Path
    import numpy as np
    from flwr.common import parameters_to_ndarrays
    import flwr.compat.common.recorddict_compat as compat
    def mod(msg, context, call_next):
        reply = call_next(msg, context)
        if not reply.has_error() and 'fitres.parameters' in reply.content:
            fitres = compat.recorddict_to_fitres(reply.content, keep_input=True)
            Path(folder).mkdir(parents=True, exist_ok=True)
            np.savez(Path(folder) / f"{int(context.node_config['partition-id'])}.npz",
                     *parameters_to_ndarrays(fitres.parameters), num_examples=fitres.num_examples)
        return reply
    return mod
