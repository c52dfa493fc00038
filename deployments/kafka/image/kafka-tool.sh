#!/usr/bin/env bash
# Kafka's command line tools by their usual names (/opt/kafka/bin/<name>.sh
# are links to this script): the Java class of each, on the tools' classpath.
set -euo pipefail
case $(basename "$0" .sh) in
kafka-broker-api-versions) class=org.apache.kafka.tools.BrokerApiVersionsCommand ;;
kafka-console-consumer) class=org.apache.kafka.tools.consumer.ConsoleConsumer ;;
kafka-console-producer) class=org.apache.kafka.tools.ConsoleProducer ;;
kafka-topics) class=org.apache.kafka.tools.TopicCommand ;;
kafka-consumer-groups) class=org.apache.kafka.tools.consumer.group.ConsumerGroupCommand ;;
kafka-acls) class=org.apache.kafka.tools.AclCommand ;;
*) echo "kafka-tool.sh: unknown tool $0" >&2; exit 2 ;;
esac
exec java -Xmx256m -XX:TieredStopAtLevel=1 -Dlog4j2.configurationFile=/opt/kafka/tools-log4j2.properties \
  -cp '/opt/kafka/tools-libs/*' "$class" "$@"
