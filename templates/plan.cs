<?cs include:"header.cs" ?>
<p class="sub"><a href="<?cs var:Prefix ?>/admin/plans">Plans</a> /</p>
<h1>Plan <?cs var:Plan.Name ?></h1>
<?cs if:Plan.Description ?><p><?cs var:Plan.Description ?></p><?cs /if ?>
<section class="card">
  <h2>Limits</h2>
  <p class="sub">Leave a field empty to inherit the global value. Changes reach every tenant on this plan within a second.</p>
  <form method="post" action="<?cs var:Prefix ?>/admin/plans/<?cs var:url_escape(Plan.Name) ?>">
    <input type="hidden" name="csrf" value="<?cs var:Csrf ?>">
    <?cs include:"limits_table.cs" ?>
    <?cs if:User.Role == "operator" ?><p><button type="submit" class="primary">Save limits</button></p><?cs /if ?>
  </form>
</section>
<?cs include:"footer.cs" ?>
