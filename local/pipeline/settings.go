package pipeline

import (
	"github.com/logistos-sync/logistos-sync/local/fakelogistos"
	"github.com/logistos-sync/logistos-sync/local/fakewoo"
	"github.com/logistos-sync/logistos-sync/shared/config"
)

// StandInSettings are the settings a deployment's template would give the
// functions (New's and NewConnect's vars) for the stand-ins: the shop at
// shopURL with fakewoo's key as literals, the webhook served at
// webhookURL, and a fakelogistos server at logistosURL for both of
// Logistos's endpoints. Add to the map what a test changes.
func StandInSettings(shopURL, webhookURL, logistosURL string) map[string]string {
	return map[string]string{
		config.StoreURL:               shopURL,
		config.WooConsumerKey:         fakewoo.Key,
		config.WooConsumerSecret:      fakewoo.Secret,
		config.WebhookURL:             webhookURL,
		config.LogistosOrdersURL:      logistosURL + fakelogistos.OrdersPath,
		config.LogistosCredentialsURL: logistosURL + fakelogistos.CredentialsPath,
	}
}
