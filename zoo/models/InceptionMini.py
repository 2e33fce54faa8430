import torch
import torch.nn as nn


def supported_hyperparameters():
    return {'lr', 'momentum', 'dropout'}


def conv_bn(cin: int, cout: int, kernel: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, kernel, padding=kernel // 2, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


class Inception(nn.Module):
    """GoogLeNet's module: 1x1, 1x1-3x3, 1x1-5x5 and pool-1x1 branches
    concatenated along the channels."""

    def __init__(self, cin: int, b1: int, b3: int, b5: int, bp: int) -> None:
        super().__init__()
        self.out_channels = b1 + b3 + b5 + bp
        self.branch1 = conv_bn(cin, b1, 1)
        self.branch3 = nn.Sequential(conv_bn(cin, b3 // 2, 1), conv_bn(b3 // 2, b3, 3))
        self.branch5 = nn.Sequential(conv_bn(cin, b5 // 2, 1), conv_bn(b5 // 2, b5, 5))
        self.branchp = nn.Sequential(nn.MaxPool2d(3, stride=1, padding=1), conv_bn(cin, bp, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.branch1(x), self.branch3(x), self.branch5(x), self.branchp(x)], 1)


class Net(nn.Module):
    """A small GoogLeNet: a conv stem and two stages of inception modules."""

    def __init__(self, in_shape: tuple, out_shape: tuple, prm: dict, device: torch.device) -> None:
        super().__init__()
        self.device = device
        channels = in_shape[1]
        classes = out_shape[0]
        inc1 = Inception(48, 16, 32, 8, 8)
        inc2 = Inception(inc1.out_channels, 32, 48, 16, 16)
        inc3 = Inception(inc2.out_channels, 48, 64, 16, 16)
        self.features = nn.Sequential(
            conv_bn(channels, 48, 3),
            nn.MaxPool2d(2),
            inc1,
            inc2,
            nn.MaxPool2d(2),
            inc3,
        )
        self.classifier = nn.Sequential(
            nn.AdaptiveAvgPool2d(4),
            nn.Flatten(),
            nn.Dropout(prm['dropout']),
            nn.Linear(inc3.out_channels * 4 * 4, classes),
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
