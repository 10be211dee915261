/*
 * mpgc_pthread.h - lock hooks for threads without a GIL (POSIX).
 *
 *   static pthread_mutex_t m;
 *   mpgc_pthread_mutex_init(&m);                 // recursive
 *   cfg.lock = mpgc_pthread_lock; cfg.unlock = mpgc_pthread_unlock;
 *   cfg.user = &m;                               // the hooks' argument
 *
 * The mutex is recursive, as MicroPython's GC mutex: a thread that holds it
 * to keep its own structures consistent may call into the heap. Holding it
 * around a sequence of heap operations also makes them atomic against
 * collections started by other threads. Library target: mpgc_pthread.
 */
#ifndef MPGC_PTHREAD_H
#define MPGC_PTHREAD_H

#include <pthread.h>
#include <stdbool.h>

bool mpgc_pthread_mutex_init(pthread_mutex_t *m);
void mpgc_pthread_lock(void *mutex);
void mpgc_pthread_unlock(void *mutex);

#endif
