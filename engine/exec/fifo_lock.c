// fifo_lock.c: the first-come first-served lock of exec_impl.h.
#include "exec_impl.h"

#include <assert.h>
#include <stdbool.h>

void het_fifo_init(het_fifo_lock *l)
{
    pthread_mutex_init(&l->mu, NULL);
    pthread_cond_init(&l->cv, NULL);
    l->next = l->serving = l->waited = 0;
}

void het_fifo_destroy(het_fifo_lock *l)
{
    pthread_mutex_destroy(&l->mu);
    pthread_cond_destroy(&l->cv);
}

void het_fifo_take(het_fifo_lock *l)
{
    pthread_mutex_lock(&l->mu);
    unsigned long me = l->next++;
    l->waited += l->serving != me;
    while (l->serving != me) pthread_cond_wait(&l->cv, &l->mu);
    pthread_mutex_unlock(&l->mu);
}

void het_fifo_give(het_fifo_lock *l)
{
    pthread_mutex_lock(&l->mu);
    // A give without its take would serve a ticket not yet handed out, and
    // the lock would never serve again: a hang far from its cause.
    assert(l->serving < l->next && "het_fifo_give without het_fifo_take");
    l->serving++;
    // Only a waiter needs waking: no one waits when the next ticket is the
    // one now served.
    bool waiters = l->next != l->serving;
    pthread_mutex_unlock(&l->mu);
    if (waiters) pthread_cond_broadcast(&l->cv);
}
