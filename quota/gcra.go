package quota

import (
	"math"
	"time"
)

// maxSpan bounds intervals and tolerances so that sums of a clock reading,
// a tolerance and an interval never overflow int64 nanoseconds.
const maxSpan = int64(1) << 60

// gcraParams are one rate limit in clock units (nanoseconds in memory,
// microseconds in Redis): the emission interval and the burst tolerance.
type gcraParams struct {
	interval  int64
	tolerance int64
}

// rateParams converts a rate per second and a burst into GCRA parameters
// for a clock ticking unitsPerSecond times a second. A zero interval means
// unlimited.
func rateParams(rate float64, burst int, unitsPerSecond float64) gcraParams {
	if !(rate > 0) {
		return gcraParams{}
	}
	iv := clampSpan(unitsPerSecond / rate)
	tol := clampSpan(float64(iv) * float64(effectiveBurst(rate, burst)))
	return gcraParams{interval: iv, tolerance: tol}
}

// byteCost is the time n bytes take at bps bytes per second.
func byteCost(n int, bps int64, unitsPerSecond float64) int64 {
	if n <= 0 || bps <= 0 {
		return 0
	}
	return clampSpan(float64(n) * unitsPerSecond / float64(bps))
}

func clampSpan(f float64) int64 {
	switch {
	case f >= float64(maxSpan) || math.IsNaN(f):
		return maxSpan
	case f < 1:
		return 1
	}
	return int64(f)
}

// gcraCheck decides one request against a cell whose theoretical arrival
// time is tat. It returns the cell's next tat when the request fits, or
// how long until it would; it never mutates anything, so callers can check
// every dimension before committing any.
func gcraCheck(tat, now int64, p gcraParams) (next int64, wait int64, ok bool) {
	if tat < now {
		tat = now
	}
	next = tat + p.interval
	if allowAt := next - p.tolerance; allowAt > now {
		return tat, allowAt - now, false
	}
	return next, 0, true
}

// debtCheck says whether a bandwidth cell is owed more than its tolerance,
// and for how long it will be.
func debtCheck(tat, now, tolerance int64) (wait int64, ok bool) {
	if over := tat - now - tolerance; over > 0 {
		return over, false
	}
	return 0, true
}

// debtCharge adds cost to a bandwidth cell and returns the new tat and the
// pause that brings the cell back within its tolerance.
func debtCharge(tat, now, cost, tolerance int64) (next int64, pause int64) {
	if tat < now {
		tat = now
	}
	next = tat + cost
	return next, max(0, next-now-tolerance)
}

// rescale carries a cell's outstanding debt over a change of limit: the
// debt tat-now was built at a cost proportional to den and is now worth
// num/den of it. Without this a raised limit would keep refusing until the
// debt run up under the old one was paid, far past the 1 s within which a
// quota change must apply. den 0 means the cell predates any limit.
func rescale(tat, now, num, den int64) int64 {
	if tat <= now || num == den || den == 0 || num == 0 {
		return tat
	}
	return now + clampSpan(float64(tat-now)*float64(num)/float64(den))
}

func nanos(d int64) time.Duration { return time.Duration(d) }
