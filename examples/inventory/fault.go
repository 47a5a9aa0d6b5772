package main

// The -expire fault, kept apart from the story. Each worker run with
// -expire reaches ZooKeeper (its first server) through a relay in its own
// process. Just before the first item's sale is sent, the seller's relay
// stops passing replies: the sale reaches ZooKeeper and is made, but the
// worker never hears so. Its client gives up on the silent connection, and
// the relay keeps new connections out until ZooKeeper expires the session,
// which it sees as ZooKeeper closing the old connection; from then on it
// relays as before.

import (
	"io"
	"log"
	"net"
	"sync/atomic"
)

// beforeSale is called just before each sale is sent; first tells whether
// it sells the first item.
var beforeSale = func(first bool) {}

// loseFirstSaleReply starts the relay to servers[0] and returns its
// address, for the worker to use instead.
func loseFirstSaleReply(servers []string) []string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	var muted atomic.Bool // replies are dropped and new connections refused
	beforeSale = func(first bool) {
		if first {
			muted.Store(true)
		}
	}
	go func() {
		for {
			client, err := ln.Accept()
			if err != nil {
				return
			}
			if muted.Load() {
				client.Close() // the session must expire first
				continue
			}
			go relay(client, servers[0], &muted)
		}
	}()
	return []string{ln.Addr().String()}
}

func relay(client net.Conn, addr string, muted *atomic.Bool) {
	defer client.Close()
	server, err := net.Dial("tcp", addr)
	if err != nil {
		return
	}
	defer server.Close()
	go func() {
		io.Copy(server, client) // requests always pass
		if !muted.Load() {
			server.Close()
		} // else ZooKeeper closes it when the session expires
	}()
	buf := make([]byte, 32<<10)
	for {
		n, err := server.Read(buf)
		if err != nil {
			muted.Store(false) // ZooKeeper closed it: the session is over
			return
		}
		if !muted.Load() {
			client.Write(buf[:n])
		}
	}
}
