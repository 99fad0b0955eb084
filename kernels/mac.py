"""MAC: c[i] += a[i] * b[i], the streaming multiply-accumulate."""
import unrollkit as uk
from unrollkit import T


@uk.kernel
def mac(a: T["N"], b: T["N"], c: T["N"]):
    for i in range(N):
        c[i] += a[i] * b[i]
