package safety

import (
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/anishathalye/porcupine"
)

// Report is what Check found.
type Report struct {
	Holds, StoreWrites, GuardedAcks int
	GuardedUnknown                  int      // guarded writes whose outcome was lost with the connection
	Overlaps                        []string // pairs of trusted holds that overlapped
	TokenOrder                      []string // holds granted later with a smaller token
	StoreLinearizable               bool     // the store's history fits a fenced register
	StaleAccepted                   int      // stale writes the store accepted
	StaleGuardedAcked               int      // stale guarded writes the server acknowledged

	storeInfo porcupine.LinearizationInfo
}

// Violations counts everything that must not happen.
func (r Report) Violations() int {
	n := len(r.Overlaps) + len(r.TokenOrder) + r.StaleGuardedAcked
	if !r.StoreLinearizable {
		n++
	}
	return n
}

// StoreModel is a fenced register: an accepted write never carries a token
// lower than one accepted before it, and a refused one always does.
var StoreModel = porcupine.Model{
	Init: func() any { return int64(0) },
	Step: func(state, input, output any) (bool, any) {
		max, token, ok := state.(int64), input.(int64), output.(bool)
		if ok {
			return token >= max, token
		}
		return token < max, max
	},
	DescribeOperation: func(input, output any) string {
		if output.(bool) {
			return "write(" + strconv.FormatInt(input.(int64), 10) + ") accepted"
		}
		return "write(" + strconv.FormatInt(input.(int64), 10) + ") refused"
	},
	DescribeState: func(state any) string { return "max token " + strconv.FormatInt(state.(int64), 10) },
}

// Check examines a history.
func Check(events []Event) Report {
	var r Report
	var holds []Event
	var ops []porcupine.Operation
	var origin time.Time
	for _, e := range events {
		if origin.IsZero() || e.From.Before(origin) {
			origin = e.From
		}
	}
	for _, e := range events {
		switch e.Kind {
		case Hold:
			holds = append(holds, e)
		case StoreWrite:
			r.StoreWrites++
			if e.Stale && e.OK {
				r.StaleAccepted++
			}
			ops = append(ops, porcupine.Operation{
				ClientId: e.Client, Input: e.Token, Output: e.OK,
				Call: e.From.Sub(origin).Nanoseconds(), Return: e.To.Sub(origin).Nanoseconds(),
			})
		case GuardedWrite:
			if e.Unknown {
				r.GuardedUnknown++
			}
			if e.OK {
				r.GuardedAcks++
				if e.Stale {
					r.StaleGuardedAcked++
				}
			}
		}
	}
	r.Holds = len(holds)
	slices.SortFunc(holds, func(a, b Event) int { return a.From.Compare(b.From) })
	for i := 1; i < len(holds); i++ {
		prev, cur := holds[i-1], holds[i]
		if cur.From.Before(prev.To) {
			r.Overlaps = append(r.Overlaps, fmt.Sprintf("client %d token %d and client %d token %d overlap by %v from %s",
				prev.Client, prev.Token, cur.Client, cur.Token, prev.To.Sub(cur.From), cur.From.Format("15:04:05.000")))
		}
		if cur.Token <= prev.Token {
			r.TokenOrder = append(r.TokenOrder, fmt.Sprintf("token %d granted after token %d", cur.Token, prev.Token))
		}
	}
	result, info := porcupine.CheckOperationsVerbose(StoreModel, ops, time.Minute)
	r.StoreLinearizable = result == porcupine.Ok
	r.storeInfo = info
	return r
}

// VisualizeStore writes porcupine's HTML view of the store's history, for
// a failing run to keep as an artifact.
func (r Report) VisualizeStore(path string) error {
	return porcupine.VisualizePath(StoreModel, r.storeInfo, path)
}
