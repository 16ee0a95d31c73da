/* The reference for the task benchmarks: the least work any task system of this design does
 * per task, with nothing else around it. Each round runs one SQL transaction (an INSERT into
 * a temporary table shaped like tasks), sends one durable AMQP message and waits for the
 * broker's settlement, then receives that message on the same connection and accepts it.
 *
 * Usage: raw_task_loop CONNINFO BROKER_URL QUEUE ROUNDS
 * Prints rounds per second and the mean time of each step in milliseconds. Use a queue that
 * no worker consumes. Built and run by bench/tasks_throughput.sh. */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "amqp/pulp_amqp.h"
#include "pulp_backoff.h"
#include "pulp_db.h"
#include "pulp_uuid.h"

typedef struct loop_state {
    pulp_amqp_t *amqp;
    int settled;
    int accepted;
    int received;
    uint64_t delivery;
} loop_state_t;

static void on_message(void *baton, uint64_t delivery, const char *body, size_t length,
                       int redelivered)
{
    loop_state_t *state = baton;

    (void)body;
    (void)length;
    (void)redelivered;
    state->received = 1;
    state->delivery = delivery;
}

static void on_sent(void *baton, uint64_t tag, int accepted)
{
    loop_state_t *state = baton;

    (void)tag;
    state->settled = 1;
    state->accepted = accepted;
}

/* Runs the connection until *flag is set; returns -1 after 10 s. */
static int run_until(pulp_amqp_t *amqp, const int *flag)
{
    int64_t deadline = pulp_monotonic_ms() + 10000;

    while (!*flag) {
        struct pollfd fd = { pulp_amqp_fd(amqp), pulp_amqp_events(amqp), 0 };
        int timeout = pulp_amqp_timeout_ms(amqp);

        if (pulp_monotonic_ms() > deadline)
            return -1;
        poll(&fd, fd.fd >= 0 ? 1 : 0, timeout < 0 || timeout > 100 ? 100 : timeout);
        pulp_amqp_process(amqp, fd.fd >= 0 ? fd.revents : 0);
    }
    return 0;
}

static double now_ms(void)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)now.tv_sec * 1000 + (double)now.tv_nsec / 1e6;
}

static int wait_connected(pulp_amqp_t *amqp)
{
    int64_t deadline = pulp_monotonic_ms() + 10000;

    while (!pulp_amqp_connected(amqp) && pulp_monotonic_ms() < deadline) {
        struct pollfd fd = { pulp_amqp_fd(amqp), pulp_amqp_events(amqp), 0 };

        poll(&fd, fd.fd >= 0 ? 1 : 0, 50);
        pulp_amqp_process(amqp, fd.fd >= 0 ? fd.revents : 0);
    }
    return pulp_amqp_connected(amqp) ? 0 : -1;
}

int main(int argc, char **argv)
{
    pulp_amqp_callbacks_t callbacks = { on_message, on_sent, NULL };
    pulp_error_t error = PULP_ERROR_INIT;
    loop_state_t state = { 0 };
    double sql_ms = 0, send_ms = 0, receive_ms = 0;
    double started;
    PGconn *db;
    int rounds;

    if (argc != 5) {
        fprintf(stderr, "usage: raw_task_loop CONNINFO BROKER_URL QUEUE ROUNDS\n");
        return 2;
    }
    rounds = atoi(argv[4]);
    pulp_amqp_options_t options = { argv[2], argv[3], "raw-task-loop", 1 };

    db = pulp_db_connect(argv[1], "raw-task-loop", &error);
    state.amqp = pulp_amqp_new(&options, &callbacks, &state, &error);
    if (!db || !state.amqp || wait_connected(state.amqp) != 0) {
        fprintf(stderr, "raw_task_loop: could not connect: %s\n", error.message);
        return 1;
    }
    if (pulp_db_command(db, &error,
                        "CREATE TEMPORARY TABLE raw_tasks (task_id uuid PRIMARY KEY,"
                        " seq bigserial, task_type text, state text DEFAULT 'waiting',"
                        " tags text[], args jsonb, created timestamptz DEFAULT now())",
                        0, NULL) != PULP_OK) {
        fprintf(stderr, "raw_task_loop: %s\n", error.message);
        return 1;
    }
    pulp_amqp_set_credit(state.amqp, 1);

    started = now_ms();
    for (int i = 0; i < rounds; i++) {
        char id[PULP_UUID_LENGTH + 1];
        char body[128];
        const char *params[1] = { id };
        uint64_t tag;
        double t0 = now_ms(), t1, t2;
        size_t length;

        pulp_uuid_generate(id);
        if (pulp_db_command(db, &error,
                            "INSERT INTO raw_tasks (task_id, task_type, tags, args)"
                            " VALUES ($1, 'raw', '{}', '{}')", 1, params) != PULP_OK) {
            fprintf(stderr, "raw_task_loop: %s\n", error.message);
            return 1;
        }
        t1 = now_ms();
        length = pulp_amqp_task_message(id, body, sizeof body);
        state.settled = state.received = 0;
        if (pulp_amqp_send(state.amqp, body, length, &tag) != 0 ||
            run_until(state.amqp, &state.settled) != 0 || !state.accepted) {
            fprintf(stderr, "raw_task_loop: the broker did not accept message %d\n", i);
            return 1;
        }
        t2 = now_ms();
        if (run_until(state.amqp, &state.received) != 0) {
            fprintf(stderr, "raw_task_loop: message %d never came back\n", i);
            return 1;
        }
        pulp_amqp_settle(state.amqp, state.delivery, PULP_AMQP_ACCEPT);
        pulp_amqp_set_credit(state.amqp, 1);
        sql_ms += t1 - t0;
        send_ms += t2 - t1;
        receive_ms += now_ms() - t2;
    }
    double elapsed = (now_ms() - started) / 1000;

    printf("rounds=%d seconds=%.3f rate=%.1f sql_ms=%.3f send_ms=%.3f receive_ms=%.3f\n", rounds,
           elapsed, rounds / elapsed, sql_ms / rounds, send_ms / rounds, receive_ms / rounds);
    pulp_amqp_free(state.amqp);
    PQfinish(db);
    return 0;
}
