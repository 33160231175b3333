package workflow

import (
	"fmt"
	"math"
	"strconv"
	"time"
)

// ScaleTimers multiplies the duration of every boundary timer by factor
// (0 < factor ≤ 1; anything else is an error), so a local run sees
// reminders and escalations within seconds: with 0.0001, PT24H lasts
// 8.64 s. Calendar parts count as 24-hour days, 30-day months and 365-day
// years. The scaled Duration's Text names the original and the factor
// ("PT24H×0.0001"), so the history of an instance shows that it ran with
// shortened timers. Call it before the definition is shared: a Definition
// is immutable once in use.
func (d *Definition) ScaleTimers(factor float64) error {
	if !(factor > 0 && factor <= 1) || math.IsNaN(factor) {
		return fmt.Errorf("workflow: timer scale %v must be above 0 and at most 1", factor)
	}
	for _, e := range d.order {
		if e.Type != BoundaryTimer {
			continue
		}
		full := time.Duration(e.Duration.Years)*365*24*time.Hour + time.Duration(e.Duration.Months)*30*24*time.Hour +
			time.Duration(e.Duration.Days)*24*time.Hour + e.Duration.Clock
		scaled := time.Duration(float64(full) * factor)
		if scaled < time.Millisecond {
			scaled = time.Millisecond
		}
		e.Duration = Duration{Clock: scaled, Text: e.Duration.Text + "×" + strconv.FormatFloat(factor, 'g', -1, 64)}
	}
	return nil
}
