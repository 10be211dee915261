/* lock_pthread.c - the config's lock hooks on a POSIX recursive mutex. */
#define _POSIX_C_SOURCE 200809L /* recursive mutexes (XSI, POSIX.1-2008) */
#define _XOPEN_SOURCE 700
#include "mpgc_pthread.h"

bool mpgc_pthread_mutex_init(pthread_mutex_t *m) {
    pthread_mutexattr_t a;
    if (pthread_mutexattr_init(&a) != 0) return false;
    bool ok = pthread_mutexattr_settype(&a, PTHREAD_MUTEX_RECURSIVE) == 0 &&
              pthread_mutex_init(m, &a) == 0;
    pthread_mutexattr_destroy(&a);
    return ok;
}

void mpgc_pthread_lock(void *mutex) { pthread_mutex_lock((pthread_mutex_t *)mutex); }
void mpgc_pthread_unlock(void *mutex) { pthread_mutex_unlock((pthread_mutex_t *)mutex); }
