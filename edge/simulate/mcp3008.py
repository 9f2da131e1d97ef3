"""An MCP3008 ADC emulated on gpiozero's mock SPI pins, so ``gpiozero.MCP3008`` reads it.

gpiozero ships mock pins and a generic :class:`MockSPIDevice`, but no ADC behind them.
This is the slave side of the chip's serial protocol (datasheet DS21295, section 6),
bit for bit as gpiozero's ``MCP3xxx`` bit-bangs it over software SPI (mode 0, MSB first,
select active low):

    clock   1 .. 7     8      9      10 11 12   13      14     15 .. 24
    MOSI    0 .. 0   start  SGL/DIFF  D2 D1 D0  x       x      x ..
    MISO    x .. x     x      x       x  x  x   sample  null0  B9 .. B0

The chip samples on the clock after D0, answers a null bit, then the 10-bit code MSB
first; if the master keeps clocking it repeats the code LSB first (B1..B9), then zeros.
The code is floor(1024 · Vin / Vref), clamped to 1023. Differential mode reads
``IN+ - IN-`` for the pair that D2..D0 select (CH0-CH1, CH1-CH0, CH2-CH3, ...) and
answers 0 when ``IN-`` is the higher.
"""

from __future__ import annotations

import math

from gpiozero.pins.mock import MockFactory, MockSPIDevice

CHANNELS = 8
BITS = 10
MAX_CODE = (1 << BITS) - 1
SPI0_CLOCK, SPI0_MOSI, SPI0_MISO = "GPIO11", "GPIO10", "GPIO9"
SPI0_SELECT = ("GPIO8", "GPIO7")  # CE0, CE1
_COMMAND_BITS = 5  # start, SGL/DIFF, D2, D1, D0


class MockMCP3008(MockSPIDevice):  # type: ignore[misc]  # gpiozero is untyped
    """The chip on chip select ``select`` (0 = CE0 on GPIO8, 1 = CE1 on GPIO7) of SPI0.

    Create it before anything opens the SPI pins: gpiozero builds its mock SPI wiring
    from the pin classes this constructor puts on the factory.
    """

    def __init__(self, select: int = 0, *, pin_factory: MockFactory | None = None) -> None:
        if select not in (0, 1):
            raise ValueError("select is 0 (CE0) or 1 (CE1)")
        super().__init__(
            SPI0_CLOCK, SPI0_MOSI, SPI0_MISO, SPI0_SELECT[select], pin_factory=pin_factory
        )
        # Chip select idles high (deselected), as the Pi's SPI controller keeps it. A mock
        # pin would float low, and a chip nobody has opened yet would answer its
        # neighbour's conversations on the shared MISO line.
        if self.select_pin.function == "input":
            self.select_pin.drive_high()
        self._codes = [0] * CHANNELS
        self._answered = False
        self.conversions = 0
        """How many conversions the chip has answered: a test's proof that it was read."""

    def set_code(self, channel: int, code: int) -> None:
        """Make ``channel`` convert to ``code`` (0..1023)."""
        _check_channel(channel)
        if not 0 <= code <= MAX_CODE:
            raise ValueError(f"code {code} is outside 0..{MAX_CODE}")
        self._codes[channel] = code

    def set_fraction(self, channel: int, fraction: float) -> None:
        """Put ``fraction`` of Vref (0..1) on ``channel``; it converts as the datasheet says."""
        if not 0.0 <= fraction <= 1.0:
            raise ValueError(f"fraction {fraction} is outside 0..1")
        self.set_code(channel, min(MAX_CODE, math.floor(fraction * (MAX_CODE + 1))))

    def code(self, channel: int) -> int:
        _check_channel(channel)
        return self._codes[channel]

    def on_start(self) -> None:
        super().on_start()
        self._answered = False

    def on_bit(self) -> None:
        if self._answered:
            return
        bits: list[int] = [int(b) for b in self.rx_buf]
        try:
            start = bits.index(1)
        except ValueError:
            return  # still in the leading zeros before the start bit
        command = bits[start + 1 : start + _COMMAND_BITS]
        if len(command) < _COMMAND_BITS - 1:
            return
        single, d2, d1, d0 = command
        channel = d2 << 2 | d1 << 1 | d0
        code = self._codes[channel] if single else self._difference(channel)
        msb_first = [code >> i & 1 for i in range(BITS - 1, -1, -1)]
        self.tx_buf[:] = [0, 0, *msb_first, *msb_first[-2::-1]]  # sample, null, B9..B0, B1..B9
        self._answered = True
        self.conversions += 1

    def _difference(self, channel: int) -> int:
        plus, minus = self._codes[channel], self._codes[channel ^ 1]
        return max(0, plus - minus)


def _check_channel(channel: int) -> None:
    if not 0 <= channel < CHANNELS:
        raise ValueError(f"channel {channel} is outside 0..{CHANNELS - 1}")
