// Optional API gateway: API Management (Consumption) importing openapi.yaml
// with the function app as backend. Authentication stays in the handler
// (bearer tokens); the gateway gives the API one public host in front.
@description('Required. Service name.')
param name string
@description('Required. Region.')
param location string
@description('Optional. Resource tags.')
param tags object = {}
@description('Required. Publisher e-mail.')
param publisherEmail string
@description('Optional. Publisher name.')
param publisherName string = 'profileflow'
@description('Required. Backend base URL (the function app\'s /api).')
param backendUrl string

resource service 'Microsoft.ApiManagement/service@2024-05-01' = {
  name: name
  location: location
  tags: tags
  sku: { name: 'Consumption', capacity: 0 }
  properties: {
    publisherEmail: publisherEmail
    publisherName: publisherName
  }
}

resource api 'Microsoft.ApiManagement/service/apis@2024-05-01' = {
  parent: service
  name: 'profileflow'
  properties: {
    displayName: 'profileflow'
    path: 'api'
    protocols: ['https']
    serviceUrl: backendUrl
    subscriptionRequired: false
    format: 'openapi'
    value: loadTextContent('../../openapi.yaml')
  }
}

output gatewayUrl string = '${service.properties.gatewayUrl}/api'
