<?cs include:"header.cs" ?>
<h1>Tenants</h1>
<form class="toolbar" method="get" action="<?cs var:Prefix ?>/admin/tenants">
  <label>Search slug or name <input type="search" name="q" value="<?cs var:Q ?>" maxlength="100"></label>
  <button type="submit">Search</button>
  <?cs if:Q ?><a href="<?cs var:Prefix ?>/admin/tenants">Clear</a><?cs /if ?>
</form>
<section class="card">
  <?cs if:subcount(Tenants) == 0 ?>
  <p class="empty"><?cs if:Q ?>No tenant's slug or name contains “<?cs var:Q ?>”. Try a shorter search.<?cs elif:After ?>No more tenants. <a href="<?cs var:Prefix ?>/admin/tenants">Back to the first page</a>.<?cs else ?>No tenants yet.<?cs if:User.Role == "operator" ?> Create the first one with the form below.<?cs /if ?><?cs /if ?></p>
  <?cs else ?>
  <div class="table-wrap"><table class="grid">
    <thead><tr><th>Slug</th><th>Name</th><th>Plan</th><th>Status</th><th class="r">Spend this month</th><th class="r">Requests today</th></tr></thead>
    <tbody>
    <?cs each:t = Tenants ?>
    <tr><td><a href="<?cs var:Prefix ?>/admin/tenants/<?cs var:t.Id ?>"><?cs var:t.Slug ?></a></td>
      <td><?cs var:t.Name ?></td><td><?cs var:t.Plan ?></td>
      <td><span class="badge <?cs var:t.Status ?>"><?cs var:t.Status ?></span></td>
      <td class="r"><?cs var:t.MonthCost ?></td><td class="r"><?cs var:t.DayRequests ?></td></tr>
    <?cs /each ?>
    </tbody>
  </table></div>
  <?cs /if ?>
  <nav class="pager">
    <span><?cs if:After ?><a href="<?cs var:Prefix ?>/admin/tenants?q=<?cs var:url_escape(Q) ?>">First page</a><?cs /if ?></span>
    <span><?cs if:Next ?><a href="<?cs var:Prefix ?>/admin/tenants?q=<?cs var:url_escape(Q) ?>&amp;after=<?cs var:Next ?>">Next 50</a><?cs /if ?></span>
  </nav>
</section>
<?cs if:User.Role == "operator" ?>
<section class="card">
  <h2>New tenant</h2>
  <form class="stack" method="post" action="<?cs var:Prefix ?>/admin/tenants">
    <input type="hidden" name="csrf" value="<?cs var:Csrf ?>">
    <label>Slug (a-z, 0-9, -) <input name="slug" required maxlength="63" pattern="[a-z0-9][a-z0-9-]*" value="<?cs var:Form.Slug ?>"></label>
    <label>Name <input name="name" required maxlength="200" value="<?cs var:Form.Name ?>"></label>
    <label>Plan <select name="plan"><?cs each:p = Plans ?><option value="<?cs var:p ?>"<?cs if:p == Form.Plan ?> selected<?cs /if ?>><?cs var:p ?></option><?cs /each ?></select></label>
    <label>Data <select name="isolation">
      <option value="">as the plan says (isolation_mode)</option>
      <option value="shared"<?cs if:Form.Isolation == "shared" ?> selected<?cs /if ?>>shared database</option>
      <option value="dedicated"<?cs if:Form.Isolation == "dedicated" ?> selected<?cs /if ?>>a database of its own</option>
    </select></label>
    <button type="submit" class="primary">Create tenant</button>
  </form>
</section>
<?cs /if ?>
<?cs include:"footer.cs" ?>
