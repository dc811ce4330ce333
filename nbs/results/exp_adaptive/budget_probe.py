import sys, time, torch, json
from torch import nn
from torch.nn.utils import parametrize
from linceiver.experiments import _dataset, Recipe, train_classifier
from linceiver.perceiver import PerceiverConfig, PerceiverIO
from linceiver.client import evaluate
from linceiver.adaptive import effective_k, prune, gated_attentions, rank_budget_loss
from linceiver.bench import train_step_flops
torch.set_num_threads(1)
ds, n, ep, c = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
data = _dataset(ds)
base = dict(m=64, d=64, depth=2, heads=4, k=64, latent_k=64, encoder_attention='linformer',
            latent_attention='linformer', decoder_attention='linformer', compress_first=True)
class Scaled(nn.Module):
    def __init__(self, c): super().__init__(); self.c = c
    def forward(self, t): return self.c * t
    def right_inverse(self, v): return v / self.c
x, _, y = data.train.batch(torch.arange(2))
for lam in [float(a) for a in sys.argv[5:]]:
    torch.manual_seed(0)
    model = PerceiverIO(PerceiverConfig(**base, rank_gate=None if lam < 0 else 'budget'), data.adapter(c=64, num_bands=8, patch_size=1))
    for a in gated_attentions(model).values(): parametrize.register_parametrization(a.gate, 'logits', Scaled(c))
    pen = (lambda: lam * rank_budget_loss(model)) if lam > 0 else None
    r = train_classifier(model, data, Recipe(epochs=ep, train_subset=n, test_subset=2000), 0, penalty=pen)
    for a in gated_attentions(model).values(): parametrize.remove_parametrizations(a.gate, 'logits')
    ek = {k.split('.')[-2]: v['hard'] for k, v in effective_k(model).items()}
    out = dict(lam=lam, acc=r['accuracy'], t=round(r['train_seconds'],1), hard=ek)
    if lam >= 0:
        p = prune(model); test = data.test.subset(torch.arange(2000))
        out.update(acc_pruned=evaluate(p, test)['accuracy'], flops=train_step_flops(p, x, y)/2/1e6)
    print(out, flush=True)
