#include <librdkafka/rdkafka.h>

/* rd_kafka_producev is variadic, which Swift cannot call: one record with an explicit partition,
   its key, value, headers (owned by the record once produced) and timestamp. */
static inline rd_kafka_resp_err_t sluice_rd_produce(rd_kafka_t *rk, rd_kafka_topic_t *topic, int32_t partition,
                                                    const void *key, size_t key_length, const void *value,
                                                    size_t value_length, rd_kafka_headers_t *headers,
                                                    int64_t timestamp, void *opaque) {
    return rd_kafka_producev(rk, RD_KAFKA_V_RKT(topic), RD_KAFKA_V_PARTITION(partition),
                             RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_KEY(key, key_length),
                             RD_KAFKA_V_VALUE((void *)value, value_length), RD_KAFKA_V_HEADERS(headers),
                             RD_KAFKA_V_TIMESTAMP(timestamp), RD_KAFKA_V_OPAQUE(opaque), RD_KAFKA_V_END);
}
