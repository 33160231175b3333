// Package sbpeer holds the local Service Bus peer (peer.js and lib/, run by
// Node; started from Go by dev/stack.StartServiceBus) and its test suite,
// which drives the peer with azservicebus exactly as the application does.
// The package has no Go API of its own.
package sbpeer
