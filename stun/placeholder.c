/* placeholder: removed when the codec lands */
int stun_placeholder_(void);
int stun_placeholder_(void) { return 0; }
