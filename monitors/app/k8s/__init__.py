"""run-monitor k8s render: CronJob and Deployment manifests from schedules.yaml."""
