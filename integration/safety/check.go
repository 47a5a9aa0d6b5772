package safety

import (
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/anishathalye/porcupine"
)

// Guarded counts the guarded writes made on one resource.
type Guarded struct {
	Acks    int // acknowledged by the server
	Unknown int // outcome lost with the connection (or the process): may have been applied
}

// Report is what Check found.
type Report struct {
	Holds, StoreWrites int
	GuardedAcks        int                // over every resource
	GuardedUnknown     int                // guarded writes whose outcome was lost with the connection
	Guarded            map[string]Guarded // per resource
	Overlaps           []string           // trusted holds that overlapped against their recipe's rule
	Crowds             []string           // moments with more trusted holds of a resource than its limit
	MostAtOnce         map[string]int     // the most trusted holds of a limited resource at once
	TokenOrder         []string           // holds granted after another ended, with a smaller token
	StoreLinearizable  bool               // every resource's store history fits a fenced register
	RefusedWhileHeld   []string           // writes the store fenced out while their exclusive hold was trusted
	StaleAccepted      int                // stale writes the store accepted (no newer token had been written)
	StaleRefused       int                // stale writes the store fenced out
	StaleGuardedAcked  int                // stale guarded writes the server acknowledged

	storeInfo map[string]porcupine.LinearizationInfo
	failing   []string // resources whose store history is not linearizable
}

// Violations counts everything that must not happen.
func (r Report) Violations() int {
	n := len(r.Overlaps) + len(r.Crowds) + len(r.TokenOrder) + len(r.RefusedWhileHeld) + r.StaleGuardedAcked
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

// Check examines a history. Holds whose trust ended where it began (To not
// after From) were never trusted: they take part in no check.
func Check(events []Event) Report {
	r := Report{Guarded: map[string]Guarded{}, StoreLinearizable: true, storeInfo: map[string]porcupine.LinearizationInfo{}, MostAtOnce: map[string]int{}}
	holds := map[string][]Event{}
	ops := map[string][]porcupine.Operation{}
	var refused []Event // store writes fenced out, not made stale on purpose
	var origin time.Time
	for _, e := range events {
		if origin.IsZero() || e.From.Before(origin) {
			origin = e.From
		}
	}
	var resources []string
	for _, e := range events {
		if _, ok := holds[e.Resource]; !ok {
			holds[e.Resource] = nil
			resources = append(resources, e.Resource)
		}
		switch e.Kind {
		case Hold:
			r.Holds++
			if e.To.After(e.From) {
				holds[e.Resource] = append(holds[e.Resource], e)
			}
		case StoreWrite:
			r.StoreWrites++
			if e.Stale && e.OK {
				r.StaleAccepted++
			}
			if e.Stale && !e.OK {
				r.StaleRefused++
			}
			if !e.Stale && !e.OK {
				refused = append(refused, e)
			}
			ops[e.Resource] = append(ops[e.Resource], porcupine.Operation{
				ClientId: e.Client, Input: e.Token, Output: e.OK,
				Call: e.From.Sub(origin).Nanoseconds(), Return: e.To.Sub(origin).Nanoseconds(),
			})
		case GuardedWrite:
			g := r.Guarded[e.Resource]
			if e.Unknown {
				g.Unknown++
				r.GuardedUnknown++
			}
			if e.OK {
				g.Acks++
				r.GuardedAcks++
				if e.Stale {
					r.StaleGuardedAcked++
				}
			}
			r.Guarded[e.Resource] = g
		}
	}
	r.RefusedWhileHeld = refusedWhileHeld(refused, holds)
	slices.Sort(resources)
	for _, res := range resources {
		r.Overlaps = append(r.Overlaps, overlaps(res, holds[res])...)
		found, most := crowds(res, holds[res])
		r.Crowds = append(r.Crowds, found...)
		if most > 0 {
			r.MostAtOnce[res] = most
		}
		r.TokenOrder = append(r.TokenOrder, tokenOrder(res, holds[res])...)
		if len(ops[res]) == 0 {
			continue
		}
		result, info := porcupine.CheckOperationsVerbose(StoreModel, ops[res], time.Minute)
		r.storeInfo[res] = info
		if result != porcupine.Ok {
			r.StoreLinearizable = false
			r.failing = append(r.failing, res)
		}
	}
	return r
}

// refusedWhileHeld finds the store's refusals of writes made and answered
// while their exclusive hold (same client and token, no limit) was
// trusted: a newer token had been written before, so another holder
// wrote while this one still held. Where that holder's own trust was
// recorded, the overlap rule sees it too; where it was never trusted (a
// grant that came to a process as it was stopped), only this rule does.
func refusedWhileHeld(refused []Event, holds map[string][]Event) []string {
	var found []string
	for _, w := range refused {
		for _, h := range holds[w.Resource] {
			if sameHold(h, w) && !h.Shared && h.Limit == 0 && !w.From.Before(h.From) && !w.To.After(h.To) {
				found = append(found, fmt.Sprintf("%s: the store refused token %d written by client %d at %s, within its trusted hold %s",
					w.Resource, w.Token, w.Client, w.From.Format("15:04:05.000000"), describe(h)))
				break
			}
		}
	}
	return found
}

func describe(e Event) string {
	role := "exclusive"
	if e.Shared {
		role = "shared"
	}
	return fmt.Sprintf("client %d %s token %d [%s, %s]", e.Client, role, e.Token,
		e.From.Format("15:04:05.000000"), e.To.Format("15:04:05.000000"))
}

// sameHold tells the stretches of one hold (a write stretch and the read
// stretch after its downgrade) from two holds.
func sameHold(a, b Event) bool { return a.Client == b.Client && a.Token == b.Token }

// overlaps finds pairs of trusted holds on one resource that overlapped
// although one of them was exclusive.
func overlaps(res string, holds []Event) []string {
	holds = slices.Clone(holds)
	slices.SortStableFunc(holds, func(a, b Event) int { return a.From.Compare(b.From) })
	var found []string
	var active []Event // holds still trusted when the current one began
	for _, cur := range holds {
		kept := active[:0]
		for _, a := range active {
			if a.To.After(cur.From) {
				kept = append(kept, a)
			}
		}
		active = kept
		for _, a := range active {
			if (!a.Shared || !cur.Shared) && !sameHold(a, cur) {
				end := a.To
				if cur.To.Before(end) {
					end = cur.To
				}
				found = append(found, fmt.Sprintf("%s: %s and %s overlap by %v", res, describe(a), describe(cur), end.Sub(cur.From)))
			}
		}
		active = append(active, cur)
	}
	return found
}

// crowds finds the moments when more holds of a resource were trusted at
// once than the limit its holds carry (a semaphore's maximum), and the most
// that were.
func crowds(res string, holds []Event) ([]string, int) {
	type edge struct {
		at    time.Time
		delta int
		limit int
	}
	var edges []edge
	for _, h := range holds {
		if h.Limit > 0 {
			edges = append(edges, edge{h.From, 1, h.Limit}, edge{h.To, -1, h.Limit})
		}
	}
	// At one instant, ends before starts: a hold that ends as another
	// begins does not overlap it.
	slices.SortStableFunc(edges, func(a, b edge) int {
		if c := a.at.Compare(b.at); c != 0 {
			return c
		}
		return a.delta - b.delta
	})
	var found []string
	n, most := 0, 0
	for _, e := range edges {
		n += e.delta
		most = max(most, n)
		if e.delta > 0 && n > e.limit {
			found = append(found, fmt.Sprintf("%s: %d holds trusted at once at %s, limit %d", res, n, e.at.Format("15:04:05.000000"), e.limit))
		}
	}
	return found, most
}

// tokenOrder finds holds granted after another hold on the resource had
// ended, with a smaller token than that one, where one of the two was
// exclusive: a node created later queues behind, so it cannot hold first.
// (Two readers may be granted in either order: neither waits for the other.)
func tokenOrder(res string, holds []Event) []string {
	byFrom := slices.Clone(holds)
	slices.SortStableFunc(byFrom, func(a, b Event) int { return a.From.Compare(b.From) })
	byTo := slices.Clone(holds)
	slices.SortStableFunc(byTo, func(a, b Event) int { return a.To.Compare(b.To) })
	var found []string
	var maxAll, maxExcl *Event // the ended holds with the largest tokens
	i := 0
	for _, cur := range byFrom {
		for ; i < len(byTo) && !byTo[i].To.After(cur.From); i++ {
			e := &byTo[i]
			if maxAll == nil || e.Token > maxAll.Token {
				maxAll = e
			}
			if !e.Shared && (maxExcl == nil || e.Token > maxExcl.Token) {
				maxExcl = e
			}
		}
		ref := maxExcl
		if !cur.Shared {
			ref = maxAll
		}
		if ref != nil && cur.Token < ref.Token {
			found = append(found, fmt.Sprintf("%s: %s granted after %s had ended", res, describe(cur), describe(*ref)))
		}
	}
	return found
}

// VisualizeStore writes porcupine's HTML view of the store's history (of
// the first resource whose history is not linearizable, if any), for a
// failing run to keep as an artifact.
func (r Report) VisualizeStore(path string) error {
	res := ""
	if len(r.failing) > 0 {
		res = r.failing[0]
	} else {
		for k := range r.storeInfo {
			res = k
			break
		}
	}
	info, ok := r.storeInfo[res]
	if !ok {
		return fmt.Errorf("safety: no store history to show")
	}
	return porcupine.VisualizePath(StoreModel, info, path)
}
