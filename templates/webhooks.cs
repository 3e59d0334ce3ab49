<?cs include:"header.cs" ?>
<h1>Webhooks <small class="muted"><?cs var:Tenant.Name ?></small></h1>
<section class="card">
  <p class="sub">Alerts (budget thresholds, hard budgets used up, keys about to expire, breakers opened) are sent, signed, to these addresses. Add or remove one with <code>agenthostctl webhook</code> or the tenant's <code>/v1/webhooks</code> API.</p>
  <?cs if:subcount(Hooks) == 0 ?>
  <p class="empty">This tenant has no webhooks.</p>
  <?cs else ?>
  <div class="table-wrap"><table class="grid">
    <thead><tr><th>Id</th><th>URL</th><th>Since</th></tr></thead>
    <tbody>
    <?cs each:h = Hooks ?>
    <tr><td><?cs var:h.Id ?></td><td><code><?cs var:h.Url ?></code></td><td><?cs var:h.Created ?></td></tr>
    <?cs /each ?>
    </tbody>
  </table></div>
  <?cs /if ?>
</section>
<section class="card">
  <h2>Delivery log</h2>
  <?cs if:subcount(Log) == 0 ?>
  <p class="empty">Nothing has been sent yet.</p>
  <?cs else ?>
  <div class="table-wrap"><table class="grid">
    <thead><tr><th>Delivery</th><th>Event</th><th>Subject</th><th>Threshold</th><th>Period</th><th>Status</th><th>Attempts</th><th>Last answer</th><th>Created</th><th>Delivered</th></tr></thead>
    <tbody>
    <?cs each:l = Log ?>
    <tr><td><?cs var:l.Id ?></td><td><?cs var:l.Event ?></td><td><?cs var:l.Subject ?></td>
      <td><?cs if:l.Threshold ?><?cs var:l.Threshold ?> %<?cs /if ?></td><td><?cs var:l.Period ?></td>
      <td><span class="badge <?cs if:l.Status == "delivered" ?>active<?cs elif:l.Status == "failed" ?>revoked<?cs else ?>grace<?cs /if ?>"><?cs var:l.Status ?></span></td>
      <td><?cs var:l.Attempts ?></td>
      <td><?cs if:l.HttpStatus ?>HTTP <?cs var:l.HttpStatus ?><?cs /if ?><?cs if:l.Error ?> <small class="muted"><?cs var:l.Error ?></small><?cs /if ?></td>
      <td><?cs var:l.Created ?></td><td><?cs var:l.Delivered ?></td></tr>
    <?cs /each ?>
    </tbody>
  </table></div>
  <?cs /if ?>
</section>
<?cs include:"footer.cs" ?>
