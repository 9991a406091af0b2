#ifndef GREET_GREET_H
#define GREET_GREET_H

/* Writes "<greeting>, <name>!" into buf (at most size bytes). */
int greet(char *buf, int size, const char *name);

#endif
