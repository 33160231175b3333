// The internal Container Apps environment's domain resolves, inside the
// VNet, to the environment's static IP (its own module because a zone's
// name is known only once the environment exists).
@description('Required. Default domain of the environment.')
param domain string
@description('Required. Static IP of the environment.')
param staticIp string
@description('Required. VNet that resolves the zone.')
param vnetId string
@description('Optional. Resource tags.')
param tags object = {}

resource zone 'Microsoft.Network/privateDnsZones@2024-06-01' = {
  name: domain
  location: 'global'
  tags: tags
}

resource wildcard 'Microsoft.Network/privateDnsZones/A@2024-06-01' = {
  parent: zone
  name: '*'
  properties: {
    ttl: 300
    aRecords: [{ ipv4Address: staticIp }]
  }
}

resource link 'Microsoft.Network/privateDnsZones/virtualNetworkLinks@2024-06-01' = {
  parent: zone
  name: 'link-clamav'
  location: 'global'
  properties: {
    registrationEnabled: false
    virtualNetwork: { id: vnetId }
  }
}
