import torch
import torch.nn as nn


def supported_hyperparameters():
    return ['lr', 'momentum']


class DenseLayer(nn.Module):
    def __init__(self, cin, growth):
        super().__init__()
        self.bn = nn.BatchNorm2d(cin)
        self.conv = nn.Conv2d(cin, growth, kernel_size=3, padding=1, bias=False)

    def forward(self, x):
        out = self.conv(torch.relu(self.bn(x)))
        return torch.cat([x, out], 1)


class Net(nn.Module):
    def __init__(self, in_shape, out_shape, prm, device):
        super().__init__()
        self.device = device
        self.prm = prm
        growth = 12
        c = 24
        self.conv0 = nn.Conv2d(in_shape[1], c, 3, padding=1, bias=False)
        layers = []
        for i in range(6):
            layers.append(DenseLayer(c, growth))
            c += growth
        self.dense = nn.Sequential(*layers)
        self.bn = nn.BatchNorm2d(c)
        self.fc = nn.Linear(c, out_shape[0])

    def forward(self, x):
        x = self.dense(self.conv0(x))
        x = torch.relu(self.bn(x))
        x = torch.mean(x, dim=(2, 3))
        return self.fc(x)

    def train_setup(self, prm):
        self.to(self.device)
        self.criteria = (nn.CrossEntropyLoss().to(self.device),)
        self.optimizer = torch.optim.SGD(self.parameters(), lr=self.prm['lr'], momentum=self.prm['momentum'])

    def learn(self, train_data):
        self.train()
        for inputs, labels in train_data:
            inputs, labels = inputs.to(self.device), labels.to(self.device)
            self.optimizer.zero_grad()
            loss = self.criteria[0](self(inputs), labels)
            loss.backward()
            self.optimizer.step()
