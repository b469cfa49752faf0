#!/usr/bin/env python3
"""A scripted walk-through against the dev setup of scripts/dev.sh (run that first).

Logs in as @alice:localhost, creates a room with the bot, creates a system and a member with
room commands, sends a tagged message, and prints what the room shows afterwards.
Python standard library only.
"""
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

HS = os.environ.get("HS_URL", "http://127.0.0.1:%s" % os.environ.get("HS_PORT", "8008"))
BOT = "@plural_bot:localhost"


def call(method, path, token=None, body=None):
    req = urllib.request.Request(HS + path, method=method, data=None if body is None else json.dumps(body).encode())
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return json.load(resp)
    except urllib.error.HTTPError as e:
        sys.exit("%s %s failed: %s %s" % (method, path, e.code, e.read().decode()))
    except urllib.error.URLError as e:
        sys.exit("cannot reach %s (%s): is scripts/dev.sh running?" % (HS, e.reason))


def q(s):
    return urllib.parse.quote(s, safe="")


def main():
    login = call("POST", "/_matrix/client/v3/login", body={
        "type": "m.login.password", "identifier": {"type": "m.id.user", "user": "alice"}, "password": "alice-password"})
    token = login["access_token"]
    room = call("POST", "/_matrix/client/v3/createRoom", token, {"name": "pluralmatrix demo", "invite": [BOT]})["room_id"]
    print("room", room)
    for _ in range(100):
        members = call("GET", "/_matrix/client/v3/rooms/%s/joined_members" % q(room), token)["joined"]
        if BOT in members:
            break
        time.sleep(0.1)
    else:
        sys.exit("the bot did not join: is the daemon running?")
    levels = call("GET", "/_matrix/client/v3/rooms/%s/state/m.room.power_levels/" % q(room), token)
    levels.setdefault("users", {})[BOT] = 50  # so it may remove the originals
    call("PUT", "/_matrix/client/v3/rooms/%s/state/m.room.power_levels/" % q(room), token, levels)

    n = [0]

    def say(text):
        n[0] += 1
        call("PUT", "/_matrix/client/v3/rooms/%s/send/m.room.message/try%d-%d" % (q(room), time.time(), n[0]),
             token, {"msgtype": "m.text", "body": text})
        time.sleep(1.0)

    for text in ["pk;system new Demo System", "pk;member new Alice", "pk;member alice proxy a:text",
                 "a: hello, I am Alice!", "just me, unproxied"]:
        print(">", text)
        say(text)
    time.sleep(1.0)
    events = call("GET", "/_matrix/client/v3/rooms/%s/messages?dir=b&limit=30" % q(room), token)["chunk"]
    print("\nThe room now shows (oldest first):")
    for e in reversed(events):
        if e.get("type") != "m.room.message":
            continue
        body = e.get("content", {}).get("body")
        shown = "(removed)" if body is None else body.splitlines()[0] if body else ""
        print("  %-40s %s" % (e["sender"], shown))


if __name__ == "__main__":
    main()
