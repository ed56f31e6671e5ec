# metaflow-hangs: FlowGraph visits every path from start; 2**24 paths through the diamonds
from metaflow import FlowSpec, step


class CycleManySplitsFlow(FlowSpec):
    """24 split/join diamonds, then a two-step loop: Metaflow never finishes checking it."""

    @step
    def start(self):
        self.next(self.d0)

    @step
    def d0(self):
        self.next(self.a0, self.b0)

    @step
    def a0(self):
        self.next(self.j0)

    @step
    def b0(self):
        self.next(self.j0)

    @step
    def j0(self, inputs):
        self.next(self.d1)

    @step
    def d1(self):
        self.next(self.a1, self.b1)

    @step
    def a1(self):
        self.next(self.j1)

    @step
    def b1(self):
        self.next(self.j1)

    @step
    def j1(self, inputs):
        self.next(self.d2)

    @step
    def d2(self):
        self.next(self.a2, self.b2)

    @step
    def a2(self):
        self.next(self.j2)

    @step
    def b2(self):
        self.next(self.j2)

    @step
    def j2(self, inputs):
        self.next(self.d3)

    @step
    def d3(self):
        self.next(self.a3, self.b3)

    @step
    def a3(self):
        self.next(self.j3)

    @step
    def b3(self):
        self.next(self.j3)

    @step
    def j3(self, inputs):
        self.next(self.d4)

    @step
    def d4(self):
        self.next(self.a4, self.b4)

    @step
    def a4(self):
        self.next(self.j4)

    @step
    def b4(self):
        self.next(self.j4)

    @step
    def j4(self, inputs):
        self.next(self.d5)

    @step
    def d5(self):
        self.next(self.a5, self.b5)

    @step
    def a5(self):
        self.next(self.j5)

    @step
    def b5(self):
        self.next(self.j5)

    @step
    def j5(self, inputs):
        self.next(self.d6)

    @step
    def d6(self):
        self.next(self.a6, self.b6)

    @step
    def a6(self):
        self.next(self.j6)

    @step
    def b6(self):
        self.next(self.j6)

    @step
    def j6(self, inputs):
        self.next(self.d7)

    @step
    def d7(self):
        self.next(self.a7, self.b7)

    @step
    def a7(self):
        self.next(self.j7)

    @step
    def b7(self):
        self.next(self.j7)

    @step
    def j7(self, inputs):
        self.next(self.d8)

    @step
    def d8(self):
        self.next(self.a8, self.b8)

    @step
    def a8(self):
        self.next(self.j8)

    @step
    def b8(self):
        self.next(self.j8)

    @step
    def j8(self, inputs):
        self.next(self.d9)

    @step
    def d9(self):
        self.next(self.a9, self.b9)

    @step
    def a9(self):
        self.next(self.j9)

    @step
    def b9(self):
        self.next(self.j9)

    @step
    def j9(self, inputs):
        self.next(self.d10)

    @step
    def d10(self):
        self.next(self.a10, self.b10)

    @step
    def a10(self):
        self.next(self.j10)

    @step
    def b10(self):
        self.next(self.j10)

    @step
    def j10(self, inputs):
        self.next(self.d11)

    @step
    def d11(self):
        self.next(self.a11, self.b11)

    @step
    def a11(self):
        self.next(self.j11)

    @step
    def b11(self):
        self.next(self.j11)

    @step
    def j11(self, inputs):
        self.next(self.d12)

    @step
    def d12(self):
        self.next(self.a12, self.b12)

    @step
    def a12(self):
        self.next(self.j12)

    @step
    def b12(self):
        self.next(self.j12)

    @step
    def j12(self, inputs):
        self.next(self.d13)

    @step
    def d13(self):
        self.next(self.a13, self.b13)

    @step
    def a13(self):
        self.next(self.j13)

    @step
    def b13(self):
        self.next(self.j13)

    @step
    def j13(self, inputs):
        self.next(self.d14)

    @step
    def d14(self):
        self.next(self.a14, self.b14)

    @step
    def a14(self):
        self.next(self.j14)

    @step
    def b14(self):
        self.next(self.j14)

    @step
    def j14(self, inputs):
        self.next(self.d15)

    @step
    def d15(self):
        self.next(self.a15, self.b15)

    @step
    def a15(self):
        self.next(self.j15)

    @step
    def b15(self):
        self.next(self.j15)

    @step
    def j15(self, inputs):
        self.next(self.d16)

    @step
    def d16(self):
        self.next(self.a16, self.b16)

    @step
    def a16(self):
        self.next(self.j16)

    @step
    def b16(self):
        self.next(self.j16)

    @step
    def j16(self, inputs):
        self.next(self.d17)

    @step
    def d17(self):
        self.next(self.a17, self.b17)

    @step
    def a17(self):
        self.next(self.j17)

    @step
    def b17(self):
        self.next(self.j17)

    @step
    def j17(self, inputs):
        self.next(self.d18)

    @step
    def d18(self):
        self.next(self.a18, self.b18)

    @step
    def a18(self):
        self.next(self.j18)

    @step
    def b18(self):
        self.next(self.j18)

    @step
    def j18(self, inputs):
        self.next(self.d19)

    @step
    def d19(self):
        self.next(self.a19, self.b19)

    @step
    def a19(self):
        self.next(self.j19)

    @step
    def b19(self):
        self.next(self.j19)

    @step
    def j19(self, inputs):
        self.next(self.d20)

    @step
    def d20(self):
        self.next(self.a20, self.b20)

    @step
    def a20(self):
        self.next(self.j20)

    @step
    def b20(self):
        self.next(self.j20)

    @step
    def j20(self, inputs):
        self.next(self.d21)

    @step
    def d21(self):
        self.next(self.a21, self.b21)

    @step
    def a21(self):
        self.next(self.j21)

    @step
    def b21(self):
        self.next(self.j21)

    @step
    def j21(self, inputs):
        self.next(self.d22)

    @step
    def d22(self):
        self.next(self.a22, self.b22)

    @step
    def a22(self):
        self.next(self.j22)

    @step
    def b22(self):
        self.next(self.j22)

    @step
    def j22(self, inputs):
        self.next(self.d23)

    @step
    def d23(self):
        self.next(self.a23, self.b23)

    @step
    def a23(self):
        self.next(self.j23)

    @step
    def b23(self):
        self.next(self.j23)

    @step
    def j23(self, inputs):
        self.next(self.loop_a)

    @step
    def loop_a(self):
        self.next(self.loop_b)  # expect: cycle

    @step
    def loop_b(self):
        self.next(self.loop_a)  # expect: cycle

    @step
    def end(self):  # expect: unreachable-step
        pass


if __name__ == "__main__":
    CycleManySplitsFlow()
