import SluiceConnector

ExternalConnector.run(sink: JSONLinesSink.spec) { context in try JSONLinesSink(context: context) }
