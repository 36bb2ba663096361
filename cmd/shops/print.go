package main

import (
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/logistos-sync/logistos-sync/shared/fleet"
)

// when prints a time for an operator, "never" for none.
func when(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.UTC().Format("2006-01-02 15:04Z")
}

// lastOrder prints a shop's newest order.
func lastOrder(h fleet.Health) string {
	if h.LastOrderID == 0 {
		return "none kept"
	}
	return "#" + strconv.FormatInt(h.LastOrderID, 10) + " at " + when(h.LastOrderAt)
}

// sweep prints a shop's last sweep: when, how it ended, and its refusals
// when there are any.
func sweep(s fleet.Sweep) string {
	out := when(s.At)
	if s.Outcome != "" {
		out += " " + s.Outcome
	}
	if s.Unauthorized > 0 {
		out += fmt.Sprintf(" (key refused %d in a row)", s.Unauthorized)
	}
	return out
}

func printList(out io.Writer, hs []fleet.Health) {
	if len(hs) == 0 {
		fmt.Fprintln(out, "no shops yet: give shop owners the ConnectUrl output")
		return
	}
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "SHOP\tID\tSTATUS\tCONNECTED\tLAST ORDER\tLAST SWEEP")
	for _, h := range hs {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", h.URL, h.ID, h.Status, when(h.ConnectedAt), lastOrder(h), sweep(h.Sweep))
	}
	w.Flush()
}

func printShow(out io.Writer, h fleet.Health, webhooks string) {
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	for _, row := range [][2]string{
		{"shop", h.URL}, {"id", h.ID}, {"status", string(h.Status)}, {"connected", when(h.ConnectedAt)},
		{"last order", lastOrder(h)}, {"last sweep", sweep(h.Sweep)}, {"webhooks", webhooks},
	} {
		fmt.Fprintf(w, "%s\t%s\n", row[0], row[1])
	}
	w.Flush()
}

func printDisconnected(out io.Writer, d fleet.Disconnected) {
	fmt.Fprintf(out, "%s (%s) is disconnected: its keys are forgotten, its deliveries refused, and it is no longer swept.\n", d.Shop.URL, d.Shop.ID)
	if len(d.WebhooksRemoved) > 0 {
		fmt.Fprintf(out, "Removed its webhooks to this hub: %v.\n", d.WebhooksRemoved)
	}
	if d.WebhookError != "" {
		fmt.Fprintf(out, "Its webhooks to this hub could not be removed (%s): the owner deletes them in WooCommerce → Settings → Advanced → Webhooks.\n", d.WebhookError)
	}
	fmt.Fprintln(out, "The owner connects again by the hub's connect link.")
}
