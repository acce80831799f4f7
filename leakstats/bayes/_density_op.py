"""A PyTensor Op around :class:`leakstats.bayes._density.LogDensity` (imports PyTensor)."""

from __future__ import annotations

import numpy as np
import pytensor.tensor as pt
from pytensor.gradient import DisconnectedType
from pytensor.graph.basic import Apply
from pytensor.graph.op import Op


class DensityOp(Op):
    """theta -> (log density, gradient), computed in numpy; differentiable once.

    The gradient of the first output is the second output, so NUTS evaluates the density and
    its gradient in one call. Equality is identity (each fitted model has its own data).
    """

    def __init__(self, density):
        self.density = density

    def make_node(self, theta):
        theta = pt.as_tensor_variable(theta)
        return Apply(self, [theta], [pt.dscalar(), pt.dvector()])

    def perform(self, node, inputs, outputs):
        value, grad = self.density(inputs[0])
        outputs[0][0] = np.asarray(value, dtype=float)
        outputs[1][0] = np.asarray(grad, dtype=float)

    def grad(self, inputs, output_grads):
        if not isinstance(output_grads[1].type, DisconnectedType):
            raise NotImplementedError("The density's gradient is not differentiable here.")
        _, grad = self(inputs[0])
        return [output_grads[0] * grad]

    def connection_pattern(self, node):
        return [[True, True]]
