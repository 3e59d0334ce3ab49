<?cs include:"header.cs" ?>
<h1>Health</h1>
<p class="sub">From the last 15 minutes and 24 hours of calls, open breakers and budget use. Most failing tenants first.</p>
<?cs if:subcount(Tenants) == 0 ?>
<p class="empty">No tenants yet<?cs if:User.Role == "operator" ?>: <a href="<?cs var:Prefix ?>/admin/tenants">create one</a><?cs /if ?>.</p>
<?cs else ?>
<section class="card">
<table class="grid">
  <thead><tr><th>Tenant</th><th>State</th><th>Why</th><th class="r">Calls 15 min</th><th class="r">Failed 15 min</th><th class="r">Refused 15 min</th><th class="r">Calls 24 h</th><th class="r">Failed 24 h</th><th class="r">p99 24 h</th><th class="r">Day budget</th><th class="r">Month budget</th></tr></thead>
  <tbody><?cs each:t = Tenants ?><tr><td><?cs var:t.Name ?> <small class="muted">#<?cs var:t.Id ?></small></td>
    <td><span class="badge <?cs var:t.Badge ?>"><?cs var:t.Level ?></span></td><td><?cs var:t.Level ?>: <?cs var:t.Why ?></td>
    <td class="r"><?cs var:t.Req15 ?></td><td class="r"><?cs var:t.FailRate15 ?></td><td class="r"><?cs var:t.RefusedRate15 ?></td><td class="r"><?cs var:t.Req24 ?></td><td class="r"><?cs var:t.FailRate24 ?></td><td class="r"><?cs var:t.P99 ?></td><td class="r"><?cs var:t.DayBudget ?></td><td class="r"><?cs var:t.MonthBudget ?></td></tr><?cs /each ?></tbody>
</table>
<nav class="pager"><?cs if:Pager.Prev ?><a href="<?cs var:Prefix ?>/admin/health?page=<?cs var:Pager.Prev ?>">Previous</a><?cs /if ?> <?cs if:Pager.Next ?><a href="<?cs var:Prefix ?>/admin/health?page=<?cs var:Pager.Next ?>">Next</a><?cs /if ?></nav>
</section>
<?cs /if ?>
<?cs include:"footer.cs" ?>
