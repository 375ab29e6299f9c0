# Job accounting for the rehearsal's cluster (sourced by cluster.sh): MariaDB and slurmdbd, so that
# `sacct` answers as on a real cluster (the SLURM plugin's status queries, the placement table).
# Everything lies under $STATE; the database listens on 127.0.0.1:$DB_PORT only. The PIDs of what
# this starts go to $PIDS, like the other daemons'.

DB_DIR=$STATE/mysql
DB_RUN=$STATE/mysql-run  # the server's socket, PID file and log: a folder its user (mysql) owns
DB_PORT=${P2L_SLURM_DB_PORT:-3307}
DB_PID=$DB_RUN/mariadbd.pid
DBD_PID=$STATE/slurmdbd.pid

start_database() {
    if alive "$(pid_of "$DB_PID")"; then return 0; fi
    mkdir -p "$DB_DIR" "$DB_RUN" && chown mysql:mysql "$DB_DIR" "$DB_RUN"
    if [[ ! -d $DB_DIR/mysql ]]; then
        mariadb-install-db --datadir="$DB_DIR" --user=mysql --auth-root-authentication-method=socket >/dev/null 2>&1
    fi
    setsid mariadbd --user=mysql --datadir="$DB_DIR" --socket="$DB_RUN/mysqld.sock" --pid-file="$DB_PID" \
        --bind-address=127.0.0.1 --port="$DB_PORT" --log-error="$DB_RUN/mariadb.log" </dev/null >/dev/null 2>&1 &
    for _ in $(seq 60); do [[ -S $DB_RUN/mysqld.sock ]] && alive "$(pid_of "$DB_PID")" && break; sleep 0.5; done
    alive "$(pid_of "$DB_PID")" || { echo "MariaDB did not start: $DB_RUN/mariadb.log" >&2; tail -5 "$DB_RUN/mariadb.log" >&2; return 1; }
    echo "mariadbd $(pid_of "$DB_PID")" >> "$PIDS"
    mariadb --socket="$DB_RUN/mysqld.sock" -u root <<EOF
CREATE USER IF NOT EXISTS 'slurm'@'127.0.0.1' IDENTIFIED BY 'rehearsal';
GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';
EOF
}

write_dbd_config() {
    cat > "$STATE/slurmdbd.conf" <<EOF
AuthType=auth/munge
DbdHost=$NODE
SlurmUser=root
PidFile=$DBD_PID
LogFile=$STATE/log/slurmdbd.log
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=$DB_PORT
StorageUser=slurm
StoragePass=rehearsal
StorageLoc=slurm_acct_db
EOF
    chmod 600 "$STATE/slurmdbd.conf"  # slurmdbd refuses a config others can read
}

# slurmdbd reads slurmdbd.conf beside $SLURM_CONF. Then the cluster, and the profile's account for
# root, are registered (the SLURM plugin checks the account with sacctmgr).
start_accounting() {
    start_database
    if ! alive "$(pid_of "$DBD_PID")"; then
        write_dbd_config
        slurmdbd
        for _ in $(seq 60); do sacctmgr -n list cluster >/dev/null 2>&1 && break; sleep 0.5; done
        echo "slurmdbd $(pid_of "$DBD_PID")" >> "$PIDS"
    fi
    sacctmgr -i add cluster patch2loc-rehearsal >/dev/null 2>&1 || true
    sacctmgr -i add account rehearsal cluster=patch2loc-rehearsal >/dev/null 2>&1 || true
    sacctmgr -i add user root account=rehearsal cluster=patch2loc-rehearsal >/dev/null 2>&1 || true
}
