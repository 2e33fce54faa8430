import torch
from torch import nn


def supported_hyperparameters():
    return {'lr', 'dropout'}


class Net(nn.Module):
    """A plain MLP trained with Adam; the learning rate is scaled down
    because LEMUR's lr range is tuned for SGD."""

    def __init__(self, in_shape, out_shape, prm, device):
        super().__init__()
        self.device = device
        n = in_shape[1] * in_shape[2] * in_shape[3]
        self.body = nn.Sequential(
            nn.Flatten(),
            nn.Linear(n, 256), nn.ReLU(), nn.Dropout(prm['dropout']),
            nn.Linear(256, 128), nn.ReLU(),
            nn.Linear(128, out_shape[0]),
        )

    def forward(self, x):
        return self.body(x)

    def train_setup(self, prm):
        self.to(self.device)
        self.criteria = [nn.CrossEntropyLoss()]
        self.optimizer = torch.optim.Adam(self.parameters(), lr=prm['lr'] * 0.1)

    def learn(self, train_data):
        for x, y in train_data:
            x, y = x.to(self.device), y.to(self.device)
            self.optimizer.zero_grad()
            loss = self.criteria[0](self(x), y)
            loss.backward()
            self.optimizer.step()
        return loss.item()
