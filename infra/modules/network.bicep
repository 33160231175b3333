// The VNet: the function app's integration subnet, the ClamAV Container Apps
// subnet and the private endpoint subnet, each with an NSG of explicit rules,
// and the private DNS zones the private endpoints register in.
@description('Required. VNet name.')
param name string
@description('Required. Region.')
param location string
@description('Optional. Resource tags.')
param tags object = {}
@description('Optional. Address space of the VNet.')
param addressPrefix string = '10.0.0.0/16'

var appPrefix = cidrSubnet(addressPrefix, 24, 1) // 10.0.1.0/24: Flex Consumption VNet integration
var endpointsPrefix = cidrSubnet(addressPrefix, 24, 2) // 10.0.2.0/24: private endpoints
var clamavPrefix = cidrSubnet(addressPrefix, 23, 2) // 10.0.4.0/23: Container Apps environment (workload profiles)

var dnsZoneNames = {
  blob: 'privatelink.blob.${environment().suffixes.storage}'
  queue: 'privatelink.queue.${environment().suffixes.storage}'
  cosmos: 'privatelink.documents.azure.com'
  serviceBus: 'privatelink.servicebus.windows.net'
  keyVault: 'privatelink.vaultcore.azure.net'
}

resource appNsg 'Microsoft.Network/networkSecurityGroups@2024-05-01' = {
  name: 'nsg-app-${name}'
  location: location
  tags: tags
  properties: {
    securityRules: [
      {
        name: 'allow-https-to-private-endpoints'
        properties: {
          description: 'Storage, Cosmos DB, Key Vault and Service Bus (HTTPS) through their private endpoints'
          priority: 100
          direction: 'Outbound'
          access: 'Allow'
          protocol: 'Tcp'
          sourceAddressPrefix: appPrefix
          sourcePortRange: '*'
          destinationAddressPrefix: endpointsPrefix
          destinationPortRange: '443'
        }
      }
      {
        name: 'allow-amqp-to-private-endpoints'
        properties: {
          description: 'Service Bus AMQP (Premium private endpoint)'
          priority: 110
          direction: 'Outbound'
          access: 'Allow'
          protocol: 'Tcp'
          sourceAddressPrefix: appPrefix
          sourcePortRange: '*'
          destinationAddressPrefix: endpointsPrefix
          destinationPortRanges: ['5671', '5672']
        }
      }
      {
        name: 'allow-clamd'
        properties: {
          description: 'clamd INSTREAM to the ClamAV container app'
          priority: 120
          direction: 'Outbound'
          access: 'Allow'
          protocol: 'Tcp'
          sourceAddressPrefix: appPrefix
          sourcePortRange: '*'
          destinationAddressPrefix: clamavPrefix
          destinationPortRange: '3310'
        }
      }
      {
        name: 'allow-https-internet'
        properties: {
          description: 'Twilio, Entra ID (token keys), Application Insights, Service Bus Standard and the upload shards (public endpoints)'
          priority: 200
          direction: 'Outbound'
          access: 'Allow'
          protocol: 'Tcp'
          sourceAddressPrefix: appPrefix
          sourcePortRange: '*'
          destinationAddressPrefix: 'Internet'
          destinationPortRange: '443'
        }
      }
      {
        name: 'allow-amqp-servicebus'
        properties: {
          description: 'Service Bus Standard over AMQP (no private endpoint below Premium)'
          priority: 210
          direction: 'Outbound'
          access: 'Allow'
          protocol: 'Tcp'
          sourceAddressPrefix: appPrefix
          sourcePortRange: '*'
          destinationAddressPrefix: 'ServiceBus'
          destinationPortRanges: ['5671', '5672']
        }
      }
      {
        name: 'deny-other-outbound'
        properties: {
          priority: 4096
          direction: 'Outbound'
          access: 'Deny'
          protocol: '*'
          sourceAddressPrefix: '*'
          sourcePortRange: '*'
          destinationAddressPrefix: '*'
          destinationPortRange: '*'
        }
      }
    ]
  }
}

resource endpointsNsg 'Microsoft.Network/networkSecurityGroups@2024-05-01' = {
  name: 'nsg-pe-${name}'
  location: location
  tags: tags
  properties: {
    securityRules: [
      {
        name: 'allow-app-https'
        properties: {
          priority: 100
          direction: 'Inbound'
          access: 'Allow'
          protocol: 'Tcp'
          sourceAddressPrefix: appPrefix
          sourcePortRange: '*'
          destinationAddressPrefix: endpointsPrefix
          destinationPortRange: '443'
        }
      }
      {
        name: 'allow-app-amqp'
        properties: {
          priority: 110
          direction: 'Inbound'
          access: 'Allow'
          protocol: 'Tcp'
          sourceAddressPrefix: appPrefix
          sourcePortRange: '*'
          destinationAddressPrefix: endpointsPrefix
          destinationPortRanges: ['5671', '5672']
        }
      }
      {
        name: 'deny-other-inbound'
        properties: {
          priority: 4096
          direction: 'Inbound'
          access: 'Deny'
          protocol: '*'
          sourceAddressPrefix: '*'
          sourcePortRange: '*'
          destinationAddressPrefix: '*'
          destinationPortRange: '*'
        }
      }
    ]
  }
}

resource clamavNsg 'Microsoft.Network/networkSecurityGroups@2024-05-01' = {
  name: 'nsg-clamav-${name}'
  location: location
  tags: tags
  properties: {
    securityRules: [
      {
        name: 'allow-app-clamd'
        properties: {
          description: 'only the function app reaches clamd'
          priority: 100
          direction: 'Inbound'
          access: 'Allow'
          protocol: 'Tcp'
          sourceAddressPrefix: appPrefix
          sourcePortRange: '*'
          destinationAddressPrefix: clamavPrefix
          destinationPortRange: '3310'
        }
      }
      {
        name: 'allow-load-balancer'
        properties: {
          description: 'Container Apps health probes'
          priority: 110
          direction: 'Inbound'
          access: 'Allow'
          protocol: '*'
          sourceAddressPrefix: 'AzureLoadBalancer'
          sourcePortRange: '*'
          destinationAddressPrefix: clamavPrefix
          destinationPortRange: '*'
        }
      }
      {
        name: 'allow-environment-internal'
        properties: {
          description: 'traffic between the environment\'s own nodes'
          priority: 120
          direction: 'Inbound'
          access: 'Allow'
          protocol: '*'
          sourceAddressPrefix: clamavPrefix
          sourcePortRange: '*'
          destinationAddressPrefix: clamavPrefix
          destinationPortRange: '*'
        }
      }
      {
        name: 'deny-other-inbound'
        properties: {
          priority: 4096
          direction: 'Inbound'
          access: 'Deny'
          protocol: '*'
          sourceAddressPrefix: '*'
          sourcePortRange: '*'
          destinationAddressPrefix: '*'
          destinationPortRange: '*'
        }
      }
      {
        name: 'allow-https-outbound'
        properties: {
          description: 'image pull and freshclam signature downloads (HTTPS)'
          priority: 100
          direction: 'Outbound'
          access: 'Allow'
          protocol: 'Tcp'
          sourceAddressPrefix: clamavPrefix
          sourcePortRange: '*'
          destinationAddressPrefix: 'Internet'
          destinationPortRange: '443'
        }
      }
      {
        name: 'allow-environment-outbound'
        properties: {
          priority: 110
          direction: 'Outbound'
          access: 'Allow'
          protocol: '*'
          sourceAddressPrefix: clamavPrefix
          sourcePortRange: '*'
          destinationAddressPrefix: clamavPrefix
          destinationPortRange: '*'
        }
      }
      {
        name: 'deny-other-outbound'
        properties: {
          priority: 4096
          direction: 'Outbound'
          access: 'Deny'
          protocol: '*'
          sourceAddressPrefix: '*'
          sourcePortRange: '*'
          destinationAddressPrefix: '*'
          destinationPortRange: '*'
        }
      }
    ]
  }
}

resource vnet 'Microsoft.Network/virtualNetworks@2024-05-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    addressSpace: { addressPrefixes: [addressPrefix] }
    subnets: [
      {
        name: 'app'
        properties: {
          addressPrefix: appPrefix
          networkSecurityGroup: { id: appNsg.id }
          // Upload shards over the storage backbone without private endpoint data charges.
          serviceEndpoints: [{ service: 'Microsoft.Storage' }]
          delegations: [
            { name: 'flex', properties: { serviceName: 'Microsoft.App/environments' } }
          ]
        }
      }
      {
        name: 'private-endpoints'
        properties: {
          addressPrefix: endpointsPrefix
          networkSecurityGroup: { id: endpointsNsg.id }
          privateEndpointNetworkPolicies: 'Enabled'
        }
      }
      {
        name: 'clamav'
        properties: {
          addressPrefix: clamavPrefix
          networkSecurityGroup: { id: clamavNsg.id }
          delegations: [
            { name: 'aca', properties: { serviceName: 'Microsoft.App/environments' } }
          ]
        }
      }
    ]
  }
}

resource zones 'Microsoft.Network/privateDnsZones@2024-06-01' = [for zone in items(dnsZoneNames): {
  name: zone.value
  location: 'global'
  tags: tags
}]

resource zoneLinks 'Microsoft.Network/privateDnsZones/virtualNetworkLinks@2024-06-01' = [for (zone, i) in items(dnsZoneNames): {
  parent: zones[i]
  name: 'link-${name}'
  location: 'global'
  properties: {
    registrationEnabled: false
    virtualNetwork: { id: vnet.id }
  }
}]

output vnetId string = vnet.id
output appSubnetId string = vnet.properties.subnets[0].id
output privateEndpointSubnetId string = vnet.properties.subnets[1].id
output containerAppsSubnetId string = vnet.properties.subnets[2].id
// Zone ids by service; the module's outputs exist only once every zone does.
output dnsZoneIds object = {
  blob: resourceId('Microsoft.Network/privateDnsZones', dnsZoneNames.blob)
  queue: resourceId('Microsoft.Network/privateDnsZones', dnsZoneNames.queue)
  cosmos: resourceId('Microsoft.Network/privateDnsZones', dnsZoneNames.cosmos)
  serviceBus: resourceId('Microsoft.Network/privateDnsZones', dnsZoneNames.serviceBus)
  keyVault: resourceId('Microsoft.Network/privateDnsZones', dnsZoneNames.keyVault)
}
