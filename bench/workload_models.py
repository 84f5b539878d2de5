"""bench/workload_models.py - WORKLOADS.md's W1-W5 models and input batches in PyTorch, the
one definition bench/torch_workloads.py (CPU) and bench/torch_cuda_workloads.py (GPU) share.
Import it after any thread settings (it imports torch)."""
import torch
from torch import nn
import torch.nn.functional as F

V, D, H, T, B4 = 65, 64, 256, 64, 32   # W4: vocab, embedding, hidden, steps, batch


class VAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1, self.fc21, self.fc22 = nn.Linear(784, 400), nn.Linear(400, 20), nn.Linear(400, 20)
        self.fc3, self.fc4 = nn.Linear(20, 400), nn.Linear(400, 784)

    def forward(self, x):
        h = F.relu(self.fc1(x))
        mu, logvar = self.fc21(h), self.fc22(h)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        return self.fc4(F.relu(self.fc3(z))), mu, logvar


class CharLSTM(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb, self.lstm, self.fc = nn.Embedding(V, D), nn.LSTM(D, H, 1), nn.Linear(H, V)

    def forward(self, x):                      # x [T, B] (time-major, like workloads.c)
        y, _ = self.lstm(self.emb(x))
        return self.fc(y.reshape(T * B4, H))


def model_and_data(w):
    """(model, input batch, target or None) of workload w, drawn from torch's RNG in this
    order: the model's init, then the batch"""
    if w == 1:
        m = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 256), nn.ReLU(), nn.Linear(256, 10))
        return m, torch.rand(128, 784), torch.randint(0, 10, (128,))
    if w == 2:
        m = nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                          nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))
        return m, torch.rand(64, 1, 28, 28), torch.randint(0, 10, (64,))
    if w == 3:
        m = nn.Sequential(nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(),
                          nn.MaxPool2d(2), nn.Flatten(), nn.Linear(64 * 14 * 14, 128), nn.ReLU(), nn.Linear(128, 10))
        return m, torch.rand(64, 1, 28, 28), torch.randint(0, 10, (64,))
    if w == 4:
        m = CharLSTM()
        return m, torch.randint(0, V, (T, B4)), torch.randint(0, V, (T * B4,))
    m = VAE()
    return m, torch.rand(128, 784), None
