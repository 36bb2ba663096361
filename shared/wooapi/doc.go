// Package wooapi is a client for a shop's WooCommerce REST API v3: paged
// order listings kept byte for byte, webhook registration, and errors that
// say what the shop owner must fix. It retries what is worth retrying within
// the caller's deadline. Webhook deliveries themselves (headers, signature,
// ping) are package woohook.
package wooapi
