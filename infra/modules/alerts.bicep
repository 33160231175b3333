// Alerts: a dead-lettered message on any queue (a workflow step or notice
// that exhausted its deliveries), and failed document scans (failed
// ScanAttachment invocations, which the host retries and Event Grid
// dead-letters). One action group e-mails the operators.
@description('Required. Resource token of the environment.')
param resourceToken string
@description('Required. Region of the log alert.')
param location string
@description('Optional. Resource tags.')
param tags object = {}
@description('Optional. E-mail of the action group; empty = no receiver.')
param alertEmail string = ''
@description('Required. Service Bus namespace id.')
param serviceBusNamespaceId string
@description('Required. Queues to watch.')
param queueNames array
@description('Required. Application Insights id.')
param appInsightsId string

resource actionGroup 'Microsoft.Insights/actionGroups@2023-01-01' = {
  name: 'ag-${resourceToken}'
  location: 'global'
  tags: tags
  properties: {
    groupShortName: 'profileflow'
    enabled: true
    emailReceivers: empty(alertEmail) ? [] : [
      { name: 'operators', emailAddress: alertEmail, useCommonAlertSchema: true }
    ]
  }
}

resource deadLetters 'Microsoft.Insights/metricAlerts@2018-03-01' = {
  name: 'alert-deadletter-${resourceToken}'
  location: 'global'
  tags: tags
  properties: {
    description: 'A Service Bus message was dead-lettered (workflow or notifications queue).'
    severity: 2
    enabled: true
    scopes: [serviceBusNamespaceId]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT15M'
    criteria: {
      'odata.type': 'Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria'
      allOf: [
        {
          criterionType: 'StaticThresholdCriterion'
          name: 'deadlettered'
          metricName: 'DeadletteredMessages'
          metricNamespace: 'Microsoft.ServiceBus/namespaces'
          operator: 'GreaterThan'
          threshold: 0
          timeAggregation: 'Maximum'
          dimensions: [{ name: 'EntityName', operator: 'Include', values: queueNames }]
        }
      ]
    }
    actions: [{ actionGroupId: actionGroup.id }]
  }
}

resource failedScans 'Microsoft.Insights/scheduledQueryRules@2023-03-15-preview' = {
  name: 'alert-scan-failures-${resourceToken}'
  location: location
  tags: tags
  properties: {
    description: 'ScanAttachment invocations failed (clamd unreachable, storage errors); documents wait unscanned.'
    severity: 2
    enabled: true
    scopes: [appInsightsId]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT15M'
    criteria: {
      allOf: [
        {
          query: 'requests | where name startswith "ScanAttachment" and success == false'
          timeAggregation: 'Count'
          operator: 'GreaterThan'
          threshold: 0
          failingPeriods: { numberOfEvaluationPeriods: 1, minFailingPeriodsToAlert: 1 }
        }
      ]
    }
    actions: { actionGroups: [actionGroup.id] }
  }
}
