import torch
import torch.nn as nn


def supported_hyperparameters():
    return {'lr', 'momentum', 'dropout'}


class Fire(nn.Module):
    """SqueezeNet's fire module: a 1x1 squeeze, then parallel 1x1 and 3x3
    expansions concatenated."""

    def __init__(self, cin: int, squeeze: int, expand1: int, expand3: int) -> None:
        super().__init__()
        self.out_channels = expand1 + expand3
        self.squeeze = nn.Sequential(nn.Conv2d(cin, squeeze, 1), nn.BatchNorm2d(squeeze), nn.ReLU(inplace=True))
        self.expand1 = nn.Sequential(nn.Conv2d(squeeze, expand1, 1), nn.BatchNorm2d(expand1), nn.ReLU(inplace=True))
        self.expand3 = nn.Sequential(nn.Conv2d(squeeze, expand3, 3, padding=1), nn.BatchNorm2d(expand3), nn.ReLU(inplace=True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.squeeze(x)
        return torch.cat([self.expand1(x), self.expand3(x)], 1)


class Net(nn.Module):
    """A small SqueezeNet: fire modules, then a 1x1 convolution whose maps
    are pooled to a 4x4 grid (keeping where features are, which small images
    need) before a linear classifier."""

    def __init__(self, in_shape: tuple, out_shape: tuple, prm: dict, device: torch.device) -> None:
        super().__init__()
        self.device = device
        channels = in_shape[1]
        classes = out_shape[0]
        fire1 = Fire(64, 16, 32, 32)
        fire2 = Fire(fire1.out_channels, 16, 32, 32)
        fire3 = Fire(fire2.out_channels, 32, 64, 64)
        fire4 = Fire(fire3.out_channels, 32, 64, 64)
        self.features = nn.Sequential(
            nn.Conv2d(channels, 64, 3, padding=1),
            nn.BatchNorm2d(64),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
            fire1,
            fire2,
            nn.MaxPool2d(2),
            fire3,
            fire4,
        )
        self.classifier = nn.Sequential(
            nn.Dropout(prm['dropout']),
            nn.Conv2d(fire4.out_channels, 64, 1),
            nn.ReLU(inplace=True),
            nn.AdaptiveAvgPool2d(4),
            nn.Flatten(),
            nn.Linear(64 * 4 * 4, classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))

    def train_setup(self, prm: dict) -> None:
        self.to(self.device)
        self.criteria = (nn.CrossEntropyLoss().to(self.device),)
        self.optimizer = torch.optim.SGD(self.parameters(), lr=prm['lr'], momentum=prm['momentum'])

    def learn(self, train_data) -> None:
        self.train()
        for inputs, labels in train_data:
            inputs, labels = inputs.to(self.device), labels.to(self.device)
            self.optimizer.zero_grad()
            loss = self.criteria[0](self(inputs), labels)
            loss.backward()
            nn.utils.clip_grad_norm_(self.parameters(), 3)
            self.optimizer.step()
