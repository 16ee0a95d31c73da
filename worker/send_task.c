/* pulp-worker --send-task ID: sends the dispatch message of one task and waits for the broker
 * to accept it. A maintenance command: a task whose message was lost runs without it once
 * the housekeeping sweeper re-sends it, and a message sent twice runs its task once. */
#include "send_task.h"

#include <poll.h>
#include <stdio.h>

#include "amqp/pulp_amqp.h"
#include "pulp_backoff.h"
#include "pulp_log.h"

#define SEND_TIMEOUT_MS 10000

typedef struct send_state {
    int sent;
    int settled;
    int accepted;
} send_state_t;

static void on_sent(void *baton, uint64_t tag, int accepted)
{
    send_state_t *state = baton;

    (void)tag;
    state->settled = 1;
    state->accepted = accepted;
}

int pulp_send_task_main(const pulp_worker_config_t *config, const char *task_id)
{
    pulp_amqp_callbacks_t callbacks = { NULL, on_sent, NULL };
    pulp_amqp_options_t options = { config->broker, config->queue, "pulp-worker-send-task", 0 };
    pulp_error_t error = PULP_ERROR_INIT;
    send_state_t state = { 0, 0, 0 };
    int64_t deadline = pulp_monotonic_ms() + SEND_TIMEOUT_MS;
    pulp_amqp_t *amqp = pulp_amqp_new(&options, &callbacks, &state, &error);
    char body[128];
    size_t length = pulp_amqp_task_message(task_id, body, sizeof body);
    uint64_t tag;

    if (!amqp) {
        pulp_log_error("%s", error.message);
        return 1;
    }
    while (!state.settled && pulp_monotonic_ms() < deadline) {
        struct pollfd fd = { pulp_amqp_fd(amqp), pulp_amqp_events(amqp), 0 };
        int timeout = pulp_amqp_timeout_ms(amqp);

        if (!state.sent && pulp_amqp_connected(amqp))
            state.sent = pulp_amqp_send(amqp, body, length, &tag) == 0;
        poll(&fd, fd.fd >= 0 ? 1 : 0, timeout < 0 || timeout > 100 ? 100 : timeout);
        pulp_amqp_process(amqp, fd.revents);
    }
    pulp_amqp_free(amqp);

    if (!state.accepted) {
        pulp_log_error("could not send the dispatch message of task %s to queue \"%s\": %s",
                       task_id, config->queue,
                       state.settled ? "the broker refused it" : "timed out after 10 s");
        return 1;
    }
    pulp_log_info("sent the dispatch message of task %s to queue \"%s\"", task_id,
                  config->queue);
    return 0;
}
