"""Acting on a controller that is not in front of you: a zone run, stop, rain delay, enable,
reboot, "send the configuration now" — straight to the device when it was found on site this
session, through the cloud otherwise (queued, delivered with its next heartbeat). The person
always sees which way it went.
"""

from __future__ import annotations

from typing import Any

from textual import work

from fieldtech.domain.errors import CloudProblem, CloudUnavailable, FieldError, NotSignedIn
from fieldtech.domain.models import Controller
from fieldtech.forms.fields import Field
from fieldtech.offline_store import live
from fieldtech.screens.flows import EditFlows

# What can be sent through the cloud: (kind, words) in the order the menu offers them.
COMMANDS = [("zone.run", "Run a zone"), ("zone.stop", "Stop every zone"),
            ("rain_delay.set", "Rain delay"), ("device.enable", "Enable watering"),
            ("device.disable", "Disable watering"), ("device.reboot", "Reboot"),
            ("config.fetch", "Send the configuration now")]
MINUTES_MAX = 180  # a run from afar is a check, not a watering: the cloud caps it too


class RemoteFlows(EditFlows):
    """Mixed into the controller screen: `z` runs a zone, `g` sends any command."""

    def run_zone(self, controller: Controller, zone: int) -> None:
        where = "on site, straight to the device" if self._on_site(controller) else (
            "through the cloud: delivered with its next heartbeat")
        fields = [Field("zone", "Zone", zone, "int", hint=f"1–{controller.zone_count}"),
                  Field("minutes", "Minutes", 5, "int", hint=f"1–{MINUTES_MAX}")]

        def check(v: dict[str, Any]) -> tuple[dict[str, Any], list[FieldError]]:
            errors = []
            if not 1 <= v["zone"] <= controller.zone_count:
                errors.append(FieldError("zone", f"1 to {controller.zone_count}."))
            if not 1 <= v["minutes"] <= MINUTES_MAX:
                errors.append(FieldError("minutes", f"1 to {MINUTES_MAX} minutes."))
            return v, errors
        self.open_form(f"Run a zone of {controller.name} — {where}", (fields, check),
                       lambda v: self._send(controller, "zone.run", {
                           "zone": v["zone"], "seconds": v["minutes"] * 60}), "Run")

    def send_command(self, controller: Controller) -> None:
        fields = [Field("kind", "Command", COMMANDS[1][0], "select",
                        options=[(words, kind) for kind, words in COMMANDS]),
                  Field("zone", "Zone (run)", 1, "int", hint=f"1–{controller.zone_count}"),
                  Field("amount", "Minutes / hours", 5, "int",
                        hint="run: minutes; rain delay: hours, 0 clears")]

        def check(v: dict[str, Any]) -> tuple[dict[str, Any], list[FieldError]]:
            errors = []
            if v["kind"] == "zone.run" and not 1 <= v["zone"] <= controller.zone_count:
                errors.append(FieldError("zone", f"1 to {controller.zone_count}."))
            if v["kind"] == "zone.run" and not 1 <= v["amount"] <= MINUTES_MAX:
                errors.append(FieldError("amount", f"1 to {MINUTES_MAX} minutes."))
            if v["kind"] == "rain_delay.set" and not 0 <= v["amount"] <= 336:
                errors.append(FieldError("amount", "0 to 336 hours."))
            return v, errors

        def chosen(v: dict[str, Any]) -> None:
            kind, params = v["kind"], {}
            if kind == "zone.run":
                params = {"zone": v["zone"], "seconds": v["amount"] * 60}
            elif kind == "rain_delay.set":
                params = {"hours": v["amount"]}
            elif kind in ("device.enable", "device.disable"):
                kind, params = "device.enable", {"enabled": kind == "device.enable"}
            self._send(controller, kind, params)
        self.open_form(f"Send a command to {controller.name}", (fields, check), chosen, "Send")

    def _on_site(self, controller: Controller) -> bool:
        return self.services.site.reachable(controller.serial) is not None

    def _send(self, controller: Controller, kind: str, params: dict[str, Any],
              queue: bool = False) -> None:
        if self._on_site(controller) and kind in ("zone.run", "zone.stop", "rain_delay.set",
                                                  "device.enable"):
            self._direct(controller, kind, params)
        else:
            self._through_cloud(controller, kind, params, queue)

    @work(exclusive=True, group="remote", exit_on_error=False)
    async def _direct(self, controller: Controller, kind: str, params: dict[str, Any]) -> None:
        from fieldtech.controller_link import LinkError, open_link

        found = self.services.site.reachable(controller.serial)
        assert found is not None
        device, password = found
        try:
            async with (open_link(device, password) if password else open_link(device)) as link:
                if kind == "zone.run":
                    await link.run_zone(params["zone"], params["seconds"])
                elif kind == "zone.stop":
                    await link.stop_all()
                elif kind == "rain_delay.set":
                    await link.set_rain_delay(params["hours"])
                else:
                    await link.set_enabled(params["enabled"])
        except LinkError as exc:
            self.notify(f"Not done on site: {exc}", severity="error", timeout=8)
            return
        self.notify(f"{_words(kind, params)}: done on site, straight to the device.", timeout=4)

    @work(thread=True, exclusive=True, group="remote")
    def _through_cloud(self, controller: Controller, kind: str, params: dict[str, Any],
                       queue: bool) -> None:
        link = self.services.link
        if not link.connected:
            self.app.call_from_thread(
                self.notify, "Not sent: this controller was not found on site, and this store "
                "is local only. Sign in (L) to reach it through the cloud.", severity="warning",
                timeout=6)
            return
        try:
            answer = link.call(lambda api: api.send_command(
                controller.id, kind, params, queue_if_offline=queue))
        except CloudProblem as exc:
            if exc.slug == "controller-offline" and not queue:
                self.app.call_from_thread(self._offer_queue, controller, kind, params, str(exc))
                return
            self.app.call_from_thread(self.notify, f"Not sent: {exc}", severity="error",
                                      timeout=8)
            return
        except (CloudUnavailable, NotSignedIn) as exc:
            self.app.call_from_thread(self.notify, f"Not sent: {exc}", severity="error",
                                      timeout=8)
            return
        if isinstance(answer, dict) and answer.get("id"):
            live.remember(self.services.store, "command", answer)
        self.app.call_from_thread(
            self.notify, f"{_words(kind, params)}: sent through the cloud, delivered with the "
            "controller's next heartbeat (pending changes, u, are separate).", timeout=5)

    def _offer_queue(self, controller: Controller, kind: str, params: dict[str, Any],
                     why: str) -> None:
        self.confirm(f"{why} Queue “{_words(kind, params)}” until it is back (it expires "
                     "after 10 minutes)?", lambda: self._send(controller, kind, params, True))


def _words(kind: str, params: dict[str, Any]) -> str:
    if kind == "zone.run":
        return f"Zone {params['zone']} for {params['seconds'] // 60} min"
    if kind == "rain_delay.set":
        return f"Rain delay {params['hours']} h" if params["hours"] else "Rain delay cleared"
    if kind == "device.enable":
        return "Watering enabled" if params.get("enabled") else "Watering disabled"
    return dict(COMMANDS).get(kind, kind)
